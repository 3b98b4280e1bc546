"""Thin Chalice routes and event handlers: parse, call one service, map the result."""
