"""The console: web pages and an API over the store (``tcs-registry console``). The web stack (the
``console`` extra) is loaded by ``app`` only: the rest works without it."""
