"""A task's result document and its renderers.

A workflow's result is one document: Markdown (``full_report_md``), a one-line summary, the
figures (``metrics``) and chart descriptions (``charts``). The web app draws the charts
itself; email, webhooks and the PDF use the renderers here.
"""
