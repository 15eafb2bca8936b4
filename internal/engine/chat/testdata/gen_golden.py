#!/usr/bin/env python3
"""Writes golden/*.txt: every template in templates/ rendered for every
conversation in cases.json by Jinja2 itself, configured as Hugging Face's
transformers renders chat templates (trim_blocks, lstrip_blocks, loop
controls, tojson as json.dumps, raise_exception, strftime_now). The Go
tests compare the package's renderer against these files; this script is
the independent oracle and is not needed to run the tests.

Run from this directory: python3 gen_golden.py
"""
import datetime, json, os
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(Exception):
    pass


def raise_exception(msg):
    raise TemplateError(msg)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


cases = json.load(open("cases.json", encoding="utf-8"))
now = datetime.datetime.fromisoformat(cases["now"].replace("Z", "+00:00"))
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: now.strftime(fmt)


def message_value(m):
    d = {"role": m["role"]}
    calls = m.get("tool_calls") or []
    d["content"] = None if (m.get("content", "") == "" and calls) else m.get("content", "")
    if calls:
        out = []
        for c in calls:
            cd = {}
            if c.get("id"):
                cd["id"] = c["id"]
            cd["type"] = c.get("type") or "function"
            args = c["function"]["arguments"]
            try:
                parsed = json.loads(args)
                if isinstance(parsed, dict):
                    args = parsed
            except ValueError:
                pass
            cd["function"] = {"name": c["function"]["name"], "arguments": args}
            out.append(cd)
        d["tool_calls"] = out
    if m.get("tool_call_id"):
        d["tool_call_id"] = m["tool_call_id"]
    if m.get("name"):
        d["name"] = m["name"]
    return d


os.makedirs("golden", exist_ok=True)
for fn in sorted(os.listdir("templates")):
    name = fn[: -len(".jinja")]
    src = open(os.path.join("templates", fn), encoding="utf-8").read()
    tmpl = env.from_string(src)
    bos, eos = cases["tokens"][name]
    for cname, conv in cases["conversations"].items():
        ctx = {
            "messages": [message_value(m) for m in conv["messages"]],
            "add_generation_prompt": conv["add_generation_prompt"],
            "bos_token": bos,
            "eos_token": eos,
            "tools": conv.get("tools"),
        }
        ctx.update(conv.get("extra", {}))
        try:
            out = tmpl.render(**ctx)
        except TemplateError as e:
            out = "ERROR(raise): " + str(e)
        except Exception as e:  # any other failure: the Go side must fail too
            out = "ERROR(other): " + type(e).__name__
        with open(os.path.join("golden", f"{name}__{cname}.txt"), "w", encoding="utf-8", newline="") as f:
            f.write(out)
