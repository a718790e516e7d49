"""A Sphinx extension of the book: each page loads each script once.

sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) after the HTML builder has started;
Sphinx 7.4 then puts it on every page twice, and the second copy throws "Identifier 'THEBE_JS_URL' has already
been declared" in the reader's browser. This drops repeated scripts (same file, same inline body) from a page's
context before it is rendered.
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # an inline script's copy has "" where the original has None
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app):
    # early: the event stops at the first handler that returns a template name (emit_firstresult); the repeated
    # scripts are in the builder's list before any handler runs
    app.connect("html-page-context", unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
