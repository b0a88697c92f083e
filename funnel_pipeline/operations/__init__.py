"""Jobs, schedules, sensors and alerts: how the pipeline runs unattended."""
