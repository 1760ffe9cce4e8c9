"""The peer: the same XGBoost model behind a bare uvicorn + FastAPI app, parsing and rendering
with the same functions the endpoint uses (so the difference is the serving stack).

Run: ``python bare_app.py MODEL_DIR PORT``."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request, Response

from algorithms import _xgboost
from serving._payload import parse, render

model = _xgboost.load_model(sys.argv[1])
n_features = _xgboost.feature_count(model)
app = FastAPI()


@app.post("/invocations")
async def invocations(request: Request):
    X = parse(await request.body(), request.headers.get("content-type", ""), n_features)
    body, media = render(_xgboost.predict(model, X), request.headers.get("accept", ""))
    return Response(body, media_type=media)


@app.get("/ping")
async def ping():
    return {"status": "Healthy"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
