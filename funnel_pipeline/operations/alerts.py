"""Failure alerts: a run-failure sensor that e-mails (SMTP) and/or POSTs JSON to a webhook.

What an alert carries, and nothing else: run id, job name, the failed step key(s), each
step's error class and the first line of its message (scrubbed and truncated), the number
of attempts (retries), and the Dagster UI link. Error messages can quote data (a DuckDB
conversion error quotes the value it could not convert), so quoted text, e-mail addresses
and tokens that carry digits (ids, dates) are replaced before anything leaves the
machine; stack traces never leave. Whoever follows the link sees the full error in the UI.

Targets come from settings (environment): SMTP when FUNNEL_ALERT_SMTP_HOST, _FROM and _TO
are set (optional _PORT, _USER, _PASSWORD, _STARTTLS or _SSL, _CA_FILE; TLS always
verifies the server's certificate); the webhook when FUNNEL_ALERT_WEBHOOK_URL is set.
With neither the sensor only logs.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage

import dagster as dg

from funnel_pipeline.causes import describe_failure, scrub
from funnel_pipeline.operations.run_health import WORKER_LOST_TAG
from funnel_pipeline.settings import Settings

#: Dagster's wrappers around the step's own exception (retries wrap it once more)
_WRAPPERS = ("RetryRequestedFromPolicy", "RetryRequested")


def _user_error(error) -> tuple[str, str]:
    """(class, message) of the step's own exception, under Dagster's wrappers."""
    while error is not None and getattr(error, "cause", None) is not None \
            and ((error.cls_name or "").startswith("Dagster") or error.cls_name in _WRAPPERS):
        error = error.cause
    if error is None:
        return "UnknownError", ""
    return error.cls_name or "Error", error.message or ""


def _message_body(error_message: str, cls_name: str) -> str:
    # SerializableErrorInfo.message starts with "ClassName: ", drop it
    prefix = f"{cls_name}: "
    return error_message.removeprefix(prefix)


def build_alert(context: dg.RunFailureSensorContext, settings: Settings) -> dict:
    """The alert payload (JSON-safe, no row values)."""
    run = context.dagster_run
    attempts: dict[str, int] = {}
    for record in context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY):
        key = record.step_key or ""
        attempts[key] = attempts.get(key, 0) + 1
    steps = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error if event.step_failure_data else None
        cls_name, message = _user_error(error)
        tries = attempts.get(event.step_key or "", 0) + 1
        steps.append({
            "step_key": event.step_key,
            "error_class": cls_name,
            "message": scrub(_message_body(message, cls_name)),
            # what went wrong and what to do, in words (causes.describe_failure)
            "cause": describe_failure(error, settings.duckdb_path),
            "attempts": tries,
            "retries_exhausted": tries > 1,
        })
    run_error = None
    if not steps:  # the run failed outside a step (worker crash, run monitoring, …)
        lost = run.tags.get(WORKER_LOST_TAG)
        if lost:  # run monitoring found the worker gone (operations/run_health.py)
            run_error = scrub(f"the worker process of this run was gone ({lost}): the "
                              "service was stopped or killed with the run in flight; "
                              "marked failed by run monitoring")
        else:
            failure = context.failure_event
            run_error = scrub(failure.message if failure else "")
    base = settings.ui_base_url.rstrip("/")
    return {
        "event": "run_failure",
        "pipeline": "funnel-pipeline",
        "run_id": run.run_id,
        "job_name": run.job_name,
        "failed_steps": steps,
        "run_error": run_error,
        "ui_url": f"{base}/runs/{run.run_id}",
        "alerted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def alert_text(alert: dict) -> tuple[str, str]:
    """(subject, plain-text body) of the e-mail."""
    subject = f"[funnel-pipeline] run failed: {alert['job_name']} ({alert['run_id'][:8]})"
    lines = [f"Dagster run {alert['run_id']} of job '{alert['job_name']}' failed.", ""]
    for step in alert["failed_steps"]:
        retry = (f" after {step['attempts']} attempts (retries exhausted)"
                 if step["retries_exhausted"] else "")
        lines.append(f"- step {step['step_key']}: {step['cause']}{retry}")
    if alert["run_error"]:
        lines.append(f"- run error: {alert['run_error']}")
    lines += ["", f"Details (full error and logs): {alert['ui_url']}",
              "This message holds no applicant data; follow the link for the full error."]
    return subject, "\n".join(lines) + "\n"


def smtp_tls_context(settings: Settings) -> ssl.SSLContext:
    """A verifying TLS context for the mail server: certificate chain and host name.

    Python's `smtplib.starttls()` without a context does not verify the server's
    certificate at all, so a man in the middle could read the alert and the password.
    This one trusts the system's CA store (Debian: /etc/ssl/certs, the `ca-certificates`
    package), or only `FUNNEL_ALERT_SMTP_CA_FILE` (a PEM bundle) when that is set, e.g.
    for a mail relay with an internal CA. The name in FUNNEL_ALERT_SMTP_HOST must match
    the certificate.
    """
    context = ssl.create_default_context(cafile=settings.alert_smtp_ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def send_email(settings: Settings, alert: dict) -> None:
    """Send the alert by SMTP: plain (a local relay), STARTTLS (587) or implicit TLS (465).

    With a user name set, the password is only ever sent inside TLS: without
    FUNNEL_ALERT_SMTP_STARTTLS or FUNNEL_ALERT_SMTP_SSL this raises instead of logging in.
    A server that does not offer STARTTLS when it is asked for fails the send (no silent
    fall-back to plain text).
    """
    subject, body = alert_text(alert)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.alert_smtp_from
    message["To"] = ", ".join(_recipients(settings))
    message.set_content(body)
    encrypted = settings.alert_smtp_ssl or settings.alert_smtp_starttls
    if settings.alert_smtp_user and not encrypted:
        raise RuntimeError("refusing to send the SMTP password unencrypted: set "
                           "FUNNEL_ALERT_SMTP_STARTTLS=true (port 587) or "
                           "FUNNEL_ALERT_SMTP_SSL=true (port 465)")
    host, port = settings.alert_smtp_host, settings.alert_smtp_port
    smtp = (smtplib.SMTP_SSL(host, port, timeout=30, context=smtp_tls_context(settings))
            if settings.alert_smtp_ssl else smtplib.SMTP(host, port, timeout=30))
    with smtp:
        if settings.alert_smtp_starttls and not settings.alert_smtp_ssl:
            smtp.starttls(context=smtp_tls_context(settings))
        if settings.alert_smtp_user:
            smtp.login(settings.alert_smtp_user, settings.alert_smtp_password)
        smtp.send_message(message)


def post_webhook(settings: Settings, alert: dict) -> None:
    request = urllib.request.Request(
        settings.alert_webhook_url, data=json.dumps(alert).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "funnel-pipeline-alerts"})
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status >= 300:
            raise RuntimeError(f"webhook answered HTTP {response.status}")


def _recipients(settings: Settings) -> list[str]:
    return [a.strip() for a in settings.alert_smtp_to.split(",") if a.strip()]


def targets(settings: Settings) -> list[str]:
    found = []
    if settings.alert_smtp_host and settings.alert_smtp_from and _recipients(settings):
        found.append("email")
    if settings.alert_webhook_url:
        found.append("webhook")
    return found


def send_alert(settings: Settings, alert: dict, log=None) -> dict[str, str]:
    """Try every configured target; {target: 'sent' | error class}. Raises if all failed."""
    outcome: dict[str, str] = {}
    for target, send in (("email", send_email), ("webhook", post_webhook)):
        if target not in targets(settings):
            continue
        try:
            send(settings, alert)
            outcome[target] = "sent"
        except Exception as exc:  # noqa: BLE001 - report per target, keep trying the others
            outcome[target] = type(exc).__name__
            if log is not None:
                log.error(f"failure alert by {target} not delivered: {type(exc).__name__}: {exc}")
    if outcome and "sent" not in outcome.values():
        raise RuntimeError(f"no failure alert could be delivered: {outcome}")
    return outcome


def failure_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="failure_alerts",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="E-mail / webhook on every failed run of this code location (no applicant data).",
    )
    def _failure_alerts(context: dg.RunFailureSensorContext):
        alert = build_alert(context, settings)
        if not targets(settings):
            context.log.warning("run failed but no alert target is configured "
                                "(FUNNEL_ALERT_SMTP_* / FUNNEL_ALERT_WEBHOOK_URL)")
            return
        outcome = send_alert(settings, alert, context.log)
        context.log.info(f"failure alert for run {alert['run_id']}: {outcome}")

    return _failure_alerts
