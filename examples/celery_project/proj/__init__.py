"""An online shop's background jobs, written for Celery (the migration examples' source of truth)."""
