"""Issue 7: failure alerts reach a real local SMTP server and a local webhook receiver,
with run id, job, failed step, error class and UI link, and no applicant data."""

from __future__ import annotations

import csv
import email
import http.server
import json
import socketserver
import threading
from email import policy

import dagster as dg
import pytest
from conftest import FIXTURES

from funnel_pipeline.operations import alerts
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.settings import Settings


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def _reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        self._reply("220 127.0.0.1 test SMTP")
        envelope: dict = {"rcpt": []}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                self._reply("250-127.0.0.1\r\n250 8BITMIME")
            elif verb in (b"HELO", b"RSET", b"NOOP"):
                self._reply("250 OK")
            elif verb == b"MAIL":
                envelope = {"from": line.strip()[10:].decode(), "rcpt": []}
                self._reply("250 OK")
            elif verb == b"RCPT":
                envelope["rcpt"].append(line.strip()[8:].decode())
                self._reply("250 OK")
            elif verb == b"DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    body.append(data[1:] if data.startswith(b"..") else data)
                self.server.received.append({**envelope, "data": b"".join(body)})
                self._reply("250 OK queued")
            elif verb == b"QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 not implemented")


class _Webhook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                     "body": self.rfile.read(length)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receivers():
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threads = []
    for server in (smtp, web):
        server.received = []
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    try:
        yield smtp, web
    finally:
        for server in (smtp, web):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)


def _fixture_applicant_ids() -> set[str]:
    ids = set()
    for path in (FIXTURES / "dirty-landing").glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            field = next((f for f in reader.fieldnames or [] if f.strip().lower() == "applicant_id"), None)
            if field:
                ids.update(row[field].strip() for row in reader if row[field] and row[field].strip())
    return ids


def _alert_on(run_result: dg.ExecuteInProcessResult, instance, settings: Settings) -> None:
    context = dg.build_run_status_sensor_context(
        sensor_name="failure_alerts", dagster_event=run_result.get_run_failure_event(),
        dagster_instance=instance, dagster_run=run_result.dagster_run).for_run_failure()
    alerts.failure_alert_sensor(settings)(context)


def test_failure_alerts_reach_smtp_and_webhook_without_applicant_data(dagster_home, tmp_path, receivers):
    smtp, web = receivers
    ids = _fixture_applicant_ids()
    leaky_id = min(ids)
    settings = Settings(
        landing_dir=tmp_path / leaky_id,           # missing folder whose path quotes an applicant id
        duckdb_path=tmp_path / "funnel.duckdb", reports_dir=tmp_path / "reports",
        alert_smtp_host="127.0.0.1", alert_smtp_port=smtp.server_address[1],
        alert_smtp_from="dagster@funnel.test", alert_smtp_to="oncall@funnel.test, lead@funnel.test",
        alert_webhook_url=f"http://127.0.0.1:{web.server_address[1]}/hooks/funnel",
        ui_base_url="http://dagster.funnel.test:3000/")
    instance = dg.DagsterInstance.get()

    # 1. the real asset graph, nightly job with one retry and no delay, on a missing folder
    from funnel_pipeline.definitions import defs

    job = dg.define_asset_job("nightly", selection=dg.AssetSelection.all(),
                              op_retry_policy=dg.RetryPolicy(max_retries=1))
    pipeline = dg.Definitions(assets=list(defs.assets), jobs=[job], executor=dg.in_process_executor,
                              resources={"warehouse": FunnelWarehouse.from_settings(settings)})
    failed = pipeline.resolve_job_def("nightly").execute_in_process(instance=instance, raise_on_error=False)
    assert not failed.success

    # 2. a step whose error message is made of row values, over several lines
    @dg.op
    def load_rows():
        raise ValueError(f"Conversion Error: could not convert '{leaky_id}' for applicant "
                         f"{leaky_id}\n" + "\n".join(sorted(ids)[:50]))

    @dg.job(executor_def=dg.in_process_executor)
    def leaky():
        load_rows()

    leaked = leaky.execute_in_process(instance=instance, raise_on_error=False)
    assert not leaked.success

    _alert_on(failed, instance, settings)
    _alert_on(leaked, instance, settings)

    assert len(smtp.received) == 2 and len(web.received) == 2
    mails = [email.message_from_bytes(m["data"], policy=policy.default) for m in smtp.received]
    hooks = [json.loads(h["body"]) for h in web.received]
    assert {h["path"] for h in web.received} == {"/hooks/funnel"}
    assert {h["content_type"] for h in web.received} == {"application/json"}
    assert smtp.received[0]["rcpt"] == ["<oncall@funnel.test>", "<lead@funnel.test>"]

    nightly, other = hooks
    run_id = failed.dagster_run.run_id
    assert nightly["run_id"] == run_id and nightly["job_name"] == "nightly"
    assert nightly["ui_url"] == f"http://dagster.funnel.test:3000/runs/{run_id}"
    [step] = nightly["failed_steps"]
    assert step["step_key"] == "landing_files"
    assert step["error_class"] == "FileNotFoundError"
    assert "landing folder" in step["message"] and "does not exist" in step["message"]
    assert step["attempts"] == 2 and step["retries_exhausted"]
    assert other["job_name"] == "leaky" and other["failed_steps"][0]["step_key"] == "load_rows"
    assert other["failed_steps"][0]["error_class"] == "ValueError"

    mail = mails[0]
    assert mail["Subject"] == f"[funnel-pipeline] run failed: nightly ({run_id[:8]})"
    body = mail.get_content()
    assert run_id in body and "step landing_files: FileNotFoundError" in body
    assert "after 2 attempts (retries exhausted)" in body
    assert f"http://dagster.funnel.test:3000/runs/{run_id}" in body

    everything = b"".join(m["data"] for m in smtp.received) + b"".join(h["body"] for h in web.received)
    text = everything.decode("utf-8", errors="replace")
    assert not [i for i in ids if i in text], "an applicant id reached an alert"
    assert "Traceback" not in text and 'File "' not in text


def test_an_unreachable_target_does_not_stop_the_other(dagster_home, tmp_path, receivers):
    _, web = receivers
    closed = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    port = closed.server_address[1]
    closed.server_close()                       # nothing listens there now
    settings = Settings(alert_smtp_host="127.0.0.1", alert_smtp_port=port,
                        alert_smtp_from="a@funnel.test", alert_smtp_to="b@funnel.test",
                        alert_webhook_url=f"http://127.0.0.1:{web.server_address[1]}/")
    alert = {"run_id": "r" * 36, "job_name": "nightly", "failed_steps": [], "run_error": "x",
             "ui_url": "http://127.0.0.1:3000/runs/r"}
    assert alerts.send_alert(settings, alert) == {"email": "ConnectionRefusedError", "webhook": "sent"}
    with pytest.raises(RuntimeError, match="no failure alert could be delivered"):
        alerts.send_alert(Settings(alert_webhook_url=f"http://127.0.0.1:{port}/"), alert)
