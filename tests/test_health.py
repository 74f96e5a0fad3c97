"""Liveness and readiness."""


async def test_healthz_answers_ok(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_ok_when_the_database_answers(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
