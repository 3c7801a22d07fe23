"""A FastAPI app that starts Celery tasks and polls their state (``uvicorn main:app``)."""

from celery.result import AsyncResult
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse
from worker import create_task, divide

app = FastAPI()


@app.post("/tasks", status_code=201)
def run_task(payload=Body(...)):
    task_type = payload["type"]
    task = create_task.delay(int(task_type))
    return JSONResponse({"task_id": task.id})


@app.post("/divide", status_code=201)
def run_divide(payload=Body(...)):
    task = divide.delay(payload["x"], payload["y"])
    return JSONResponse({"task_id": task.id})


@app.get("/tasks/{task_id}")
def get_status(task_id):
    task_result = AsyncResult(task_id)
    result = {
        "task_id": task_id,
        "task_status": task_result.status,
        "task_result": task_result.result if task_result.successful() else repr(task_result.result),
    }
    return JSONResponse(result)
