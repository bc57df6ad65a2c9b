"""Under overload the API answers 503 with Retry-After at once, rather than letting clients time out."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.claim_intake.edge import Edge


def test_requests_past_the_in_flight_limit_are_shed_but_health_still_answers() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(_: Request) -> JSONResponse:
        entered.set()
        await release.wait()
        return JSONResponse({"done": True})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Edge(Starlette(routes=[Route("/slow", slow), Route("/healthz", health)]), max_in_flight=1)

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            first = asyncio.create_task(client.get("/slow"))
            await entered.wait()
            shed = await client.get("/slow")
            health_answer = await client.get("/healthz")
            release.set()
            done = await first
            after = await client.get("/slow")
            return done, shed, health_answer, after

    first, shed, health_answer, after = asyncio.run(scenario())
    assert first.status_code == 200 and after.status_code == 200  # capacity comes back
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
    assert shed.json()["error"]["code"] == "overloaded" and shed.json()["error"]["message_ar"]
    assert health_answer.status_code == 200
