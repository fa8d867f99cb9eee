"""SQL by aggregate: each module holds one aggregate's queries and returns dataclasses."""
