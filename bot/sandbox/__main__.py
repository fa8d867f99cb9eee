"""`python -m bot.sandbox [--host 127.0.0.1] [--port 8080]`: the sandbox server alone, no bot.

Open http://HOST:PORT/ for the web chat. Bot messages can be produced by hand, e.g.
    curl -X POST http://127.0.0.1:8080/sandbox/users -H 'content-type: application/json' \\
         -d '{"first_name": "Ann"}'
    curl http://127.0.0.1:8080/bot123:abc/sendMessage -d chat_id=100001 -d parse_mode=HTML \\
         -d text='<b>hello</b>'
"""
from __future__ import annotations

import argparse

from aiohttp import web

from bot.sandbox.server import build_sandbox_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bot-username", default="xuexi_sandbox_bot")
    args = parser.parse_args(argv)
    app = build_sandbox_app(bot_username=args.bot_username)
    print(f"Sandbox Bot API: http://{args.host}:{args.port}/bot<token>/<method>   "
          f"web chat: http://{args.host}:{args.port}/   (Ctrl+C to stop)", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
