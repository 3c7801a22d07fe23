"""A custom task base class: every order task leaves an audit record when it succeeds or fails."""

from celery import Task

from proj import store


class AuditedTask(Task):
    def on_success(self, retval, task_id, args, kwargs):
        store.audit("success", task=self.name, task_id=task_id, args=list(args), result=retval)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        store.audit("failure", task=self.name, task_id=task_id, args=list(args), error=f"{type(exc).__name__}: {exc}")
