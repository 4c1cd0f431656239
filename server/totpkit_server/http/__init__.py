"""Litestar glue shared by the Frontend and Backend API: body parsing, client context, errors, responses."""
