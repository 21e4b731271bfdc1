"""Tests of the LLM test infrastructure: the scripted OpenAI standin and the
real llama.cpp server fixture, both driven through the real ``openai`` client.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.llama_server import LlamaServer
from tests.openai_standin import (
    OpenAIStandin,
    StandinError,
    delay,
    fake_embedding,
    malformed,
    reply,
    reply_json,
    status,
)

MESSAGES = [{"role": "user", "content": "Who won?"}]


def client_for(llm: OpenAIStandin, **kwargs) -> AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5)
    return AsyncOpenAI(base_url=llm.base_url, api_key="test-key", **kwargs)


# --------------------------------------------------------------------------- standin


async def test_scripted_reply_reaches_async_client(openai_standin: OpenAIStandin) -> None:
    openai_standin.script(reply_json({"answer": "The Reds", "quotes": ["won 2-1"]}))
    async with client_for(openai_standin) as client:
        resp = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)

    assert json.loads(resp.choices[0].message.content) == {
        "answer": "The Reds",
        "quotes": ["won 2-1"],
    }
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "gpt-test"
    assert resp.usage.completion_tokens > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    (req,) = openai_standin.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.authorization == "Bearer test-key"
    assert req.json["messages"] == MESSAGES


async def test_default_step_when_script_is_empty(openai_standin: OpenAIStandin) -> None:
    openai_standin.script(reply("first"))
    openai_standin.default = reply("fallback")
    async with client_for(openai_standin) as client:
        texts = [
            (await client.chat.completions.create(model="m", messages=MESSAGES))
            .choices[0]
            .message.content
            for _ in range(3)
        ]
    assert texts == ["first", "fallback", "fallback"]
    assert openai_standin.pending == 0


async def test_429_then_success_is_retried(openai_standin: OpenAIStandin) -> None:
    openai_standin.script(status(429), reply("after the rate limit"))
    async with client_for(openai_standin, max_retries=2) as client:
        resp = await client.chat.completions.create(model="m", messages=MESSAGES)

    assert resp.choices[0].message.content == "after the rate limit"
    assert len(openai_standin.chat_requests) == 2
    # the client marks the second attempt as a retry
    assert openai_standin.requests[1].headers.get("x-stainless-retry-count") == "1"


async def test_500_on_every_try_raises_after_retries(openai_standin: OpenAIStandin) -> None:
    fast_retry = {"retry-after-ms": "10"}  # skip the client's 0.5 s/1 s backoff
    openai_standin.default = status(500, headers=fast_retry)
    async with client_for(openai_standin, max_retries=2) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="m", messages=MESSAGES)

    assert caught.value.status_code == 500
    assert "scripted 500" in caught.value.message
    assert len(openai_standin.requests) == 3  # first try + 2 retries


async def test_delay_longer_than_timeout_raises_quickly(openai_standin: OpenAIStandin) -> None:
    openai_standin.script(delay(30, reply("too late")))
    async with client_for(openai_standin, timeout=0.5, max_retries=0) as client:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=MESSAGES)
        elapsed = time.monotonic() - started

    assert 0.4 < elapsed < 15  # the reply would come after 30 s
    assert len(openai_standin.requests) == 1


async def test_delay_does_not_block_other_requests(openai_standin: OpenAIStandin) -> None:
    openai_standin.script(delay(1.0, reply("slow")), reply("fast"))
    async with client_for(openai_standin) as client:
        finished: list[str] = []

        async def ask() -> None:
            resp = await client.chat.completions.create(model="m", messages=MESSAGES)
            finished.append(resp.choices[0].message.content)

        slow = asyncio.create_task(ask())
        # make sure the slow request took the first step before sending the fast one
        await asyncio.to_thread(openai_standin.wait_for_requests, 1)
        await ask()
        assert finished == ["fast"]
        await slow
    assert finished == ["fast", "slow"]


async def test_malformed_body_raises_json_error(openai_standin: OpenAIStandin) -> None:
    openai_standin.script(malformed('{"id": "chatcmpl-1", "choices": ['))
    async with client_for(openai_standin, max_retries=2) as client:
        # openai 3.x hands the body to json.loads (content-type is application/json)
        # and lets the decode error through: it is neither wrapped nor retried.
        with pytest.raises(json.JSONDecodeError):
            await client.chat.completions.create(model="m", messages=MESSAGES)
    assert len(openai_standin.requests) == 1


async def test_streaming_yields_scripted_text_in_chunks(openai_standin: OpenAIStandin) -> None:
    text = "The match ended 2-1 after extra time."
    openai_standin.script(reply(text))
    async with client_for(openai_standin) as client:
        stream = await client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        finish_reasons: list[str] = []
        usage = None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                if choice.finish_reason:
                    finish_reasons.append(choice.finish_reason)

    assert "".join(pieces) == text
    assert len(pieces) == len(text.split()) > 1
    assert finish_reasons == ["stop"]
    assert usage is not None and usage.completion_tokens > 0
    assert openai_standin.requests[0].json["stream"] is True


async def test_embeddings_are_deterministic(openai_standin: OpenAIStandin) -> None:
    texts = ["storm hits coast", "election results", "storm hits coast"]
    async with client_for(openai_standin) as client:
        # the client asks for base64 by default and decodes it back to floats
        default = await client.embeddings.create(model="emb", input=texts)
        as_float = await client.embeddings.create(
            model="emb", input=texts, encoding_format="float", dimensions=8
        )

    vectors = [d.embedding for d in default.data]
    assert len(vectors) == 3 and all(len(v) == openai_standin.embedding_dim for v in vectors)
    assert vectors[0] == pytest.approx(fake_embedding("storm hits coast", 16), abs=1e-6)
    assert vectors[0] == pytest.approx(vectors[2]) and vectors[0] != pytest.approx(vectors[1])
    assert sum(x * x for x in vectors[1]) == pytest.approx(1.0, abs=1e-5)
    assert [len(d.embedding) for d in as_float.data] == [8, 8, 8]
    assert as_float.data[1].embedding == pytest.approx(fake_embedding("election results", 8))
    assert openai_standin.requests[0].json["encoding_format"] == "base64"


async def test_callable_step_sees_the_prompt(openai_standin: OpenAIStandin) -> None:
    def quote_first_passage(request_json: dict) -> object:
        prompt = request_json["messages"][-1]["content"]
        quote = re.search(r"\[1\] (.+)", prompt).group(1)
        return reply_json({"answer": "see quote", "quotes": [quote]})

    openai_standin.script(quote_first_passage)
    prompt = "Passages:\n[1] Rain is expected on Sunday.\n[2] Nothing else.\nQ: weather?"
    async with client_for(openai_standin) as client:
        resp = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": prompt}]
        )
    assert json.loads(resp.choices[0].message.content)["quotes"] == ["Rain is expected on Sunday."]


async def test_failing_callable_step_surfaces_at_exit() -> None:
    def strict(request_json: dict) -> object:
        assert request_json["model"] == "expected-model", "wrong model"
        return reply("ok")

    with pytest.raises(StandinError, match="wrong model"), OpenAIStandin() as llm:
        llm.script(strict)
        async with client_for(llm, max_retries=2) as client:
            with pytest.raises(openai.InternalServerError):
                await client.chat.completions.create(model="other-model", messages=MESSAGES)
        assert len(llm.requests) == 1  # x-should-retry: false stops the client retrying


def test_sync_client_lists_models(openai_standin: OpenAIStandin) -> None:
    with OpenAI(base_url=openai_standin.base_url, api_key="k", max_retries=0) as client:
        models = [m.id for m in client.models.list()]
        text = (
            client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
        )
    assert models == [openai_standin.model]
    assert text == "standin default reply"
    assert [r.method for r in openai_standin.requests] == ["GET", "POST"]


def test_stop_releases_port_and_wakes_delayed_answers() -> None:
    llm = OpenAIStandin().start()
    llm.script(delay(60))
    with OpenAI(base_url=llm.base_url, api_key="k", max_retries=0, timeout=30) as client:
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                client.chat.completions.create(model="m", messages=MESSAGES)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        worker = threading.Thread(target=ask)
        worker.start()
        llm.wait_for_requests(1)
        started = time.monotonic()
        llm.stop()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - started < 9  # the join gives up at 10 s
    assert errors and isinstance(errors[0], openai.APIConnectionError)


# --------------------------------------------------------------------------- llama.cpp


@pytest.mark.server
async def test_llama_server_chat_completion(llama_server: LlamaServer) -> None:
    async with AsyncOpenAI(base_url=llama_server.base_url, api_key="unused", timeout=300) as client:
        started = time.perf_counter()
        resp = await client.chat.completions.create(
            model=llama_server.model,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=48,
            temperature=0,
        )
        elapsed = time.perf_counter() - started

    text = resp.choices[0].message.content
    assert text and text.strip()
    assert resp.usage.completion_tokens > 0
    print(
        f"\nllama.cpp SmolLM2-135M: start-up {llama_server.startup_seconds:.2f}s, "
        f"{resp.usage.completion_tokens} tokens in {elapsed:.2f}s "
        f"= {resp.usage.completion_tokens / elapsed:.0f} tok/s end to end "
        f"(prompt {resp.usage.prompt_tokens} tokens)"
    )


@pytest.mark.server
async def test_llama_server_streaming(llama_server: LlamaServer) -> None:
    async with AsyncOpenAI(base_url=llama_server.base_url, api_key="unused", timeout=300) as client:
        stream = await client.chat.completions.create(
            model=llama_server.model,
            messages=[{"role": "user", "content": "Write one sentence about the sea."}],
            max_tokens=32,
            temperature=0,
            stream=True,
        )
        pieces = [
            chunk.choices[0].delta.content
            async for chunk in stream
            if chunk.choices and chunk.choices[0].delta.content
        ]

    assert len(pieces) > 1
    assert "".join(pieces).strip()
