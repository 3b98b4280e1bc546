"""pydantic models for everything that crosses a boundary; the OpenAPI document is built from them."""
