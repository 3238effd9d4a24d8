#!/usr/bin/env python3
"""Run ClickHouse statements on current ClickHouse, in process, with chdb.

Usage: .cache/venv/bin/python scripts/python/chrun.py [DIR] < requests

Every statement runs in one chdb session (session.Session(DIR)), so tables created by
one statement are there for the next, across requests. Without DIR the session lives
in a temporary directory that is removed when stdin ends.

A request is a JSON list of SQL statements (arguments already bound as literals), on
one line; a request spread over several lines is read until it parses. For each request
one line of JSON is written to stdout:

    {"results": [R, ...], "error": null}

with one R per statement: the statement's JSONCompact output (NaN and infinities quoted) ({"meta": [{"name",
"type"}], "data": [[...], ...], ...}) or null when it returns nothing (DDL, INSERT).
The first statement that fails stops the request: "results" holds the ones before it
and "error" is {"index": i, "statement": sql, "message": the ClickHouse error}, and the
exit status at the end is 1. A request that is not a JSON list of strings gets an error
with index -1. Go tests drive this through internal/chcurrent.
"""

import json
import os
import sys
import tempfile


def main(argv):
    # The protocol owns the real stdout; anything the engine prints goes to stderr.
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    try:
        from chdb import session
    except ImportError as exc:
        sys.stderr.write(
            "chrun: cannot import chdb (%s): run `bash scripts/install.sh python`\n" % exc
        )
        return 2

    if len(argv) > 2:
        sys.stderr.write("usage: chrun.py [DIR] < requests\n")
        return 2
    tmp = None
    if len(argv) == 2:
        path = argv[1]
    else:
        tmp = tempfile.TemporaryDirectory(prefix="chrun-")
        path = tmp.name
    sess = session.Session(path)
    # NaN and the infinities print as "nan", "inf" and "-inf" instead of null, so that
    # they are told apart from NULL.
    sess.query("SET output_format_json_quote_denormals = 1")
    failed = False
    try:
        for request in requests(sys.stdin):
            reply = run(sess, request)
            failed = failed or reply.get("error") is not None
            proto.write(encode(reply))
            proto.flush()
    finally:
        sess.close()
        if tmp is not None:
            tmp.cleanup()
    return 1 if failed else 0


def requests(stream):
    """Yields each request read from stream: a parsed JSON value, or a ValueError."""
    pending = ""
    for line in stream:
        if not line.strip() and not pending:
            continue
        pending += line
        try:
            value = json.loads(pending)
        except ValueError:
            continue  # not complete yet
        pending = ""
        yield value
    if pending.strip():
        yield ValueError("the input ends inside a request: %r" % pending[:200])


def run(sess, request):
    """Runs one request's statements in order, stopping at the first failure."""
    if isinstance(request, ValueError):
        return {"results": [], "error": {"index": -1, "statement": "", "message": str(request)}}
    if not isinstance(request, list) or not all(isinstance(s, str) for s in request):
        return {
            "results": [],
            "error": {"index": -1, "statement": "", "message": "a request is a JSON list of SQL strings"},
        }
    results = []
    for i, sql in enumerate(request):
        try:
            res = sess.query(sql, "JSONCompact")
        except Exception as exc:  # chdb raises ChdbError (a RuntimeError) with the server's text
            return {"results": results, "error": {"index": i, "statement": sql, "message": str(exc)}}
        raw = res.bytes() if res is not None else b""
        results.append(raw if raw.strip() else None)
    return {"results": results, "error": None}


def encode(reply):
    """One line of JSON; the statements' outputs are spliced in as they came.

    ClickHouse's JSON escapes control characters inside strings, so a newline in its
    output is whitespace between tokens and may become a space.
    """
    parts = [b"null" if raw is None else raw.replace(b"\n", b" ") for raw in reply["results"]]
    return (
        b'{"results": ['
        + b", ".join(parts)
        + b'], "error": '
        + json.dumps(reply["error"]).encode()
        + b"}\n"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
