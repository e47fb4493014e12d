"""``rag serve``: a local reading view of the store. Web libraries are imported only when it starts."""
