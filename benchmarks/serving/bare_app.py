"""The peer: the same model behind a bare uvicorn + FastAPI app, parsing and rendering
with the same functions the endpoint uses (so the difference is the serving stack).

Run: ``python bare_app.py MODEL_DIR PORT [loop|threads]``: ``loop`` (default) predicts in the
event loop; ``threads`` declares a plain ``def`` handler, which FastAPI runs in its thread
pool, so several predictions can run at once (a model that releases the GIL gains)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import Depends, FastAPI, Request, Response
from models import functions

from serving._payload import parse, render

load, predict, feature_count = functions(sys.argv[1])
model = load(sys.argv[1])
n_features = feature_count(model)
app = FastAPI()


async def raw_body(request: Request) -> bytes:
    return await request.body()


def invocations(body: bytes, content_type: str, accept: str) -> Response:
    X = parse(body, content_type, n_features)
    out, media = render(predict(model, X), accept)
    return Response(out, media_type=media)


if sys.argv[3:] == ["threads"]:
    @app.post("/invocations")
    def in_thread(request: Request, body: bytes = Depends(raw_body)):
        return invocations(body, request.headers.get("content-type", ""),
                           request.headers.get("accept", ""))
else:
    @app.post("/invocations")
    async def in_loop(request: Request):
        return invocations(await request.body(), request.headers.get("content-type", ""),
                           request.headers.get("accept", ""))


@app.get("/ping")
async def ping():
    return {"status": "Healthy"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
