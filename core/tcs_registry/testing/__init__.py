"""The plugin kit: the real CNCF distribution registry on loopback, a token server, an image pusher,
vendor API facades, and pytest fixtures (``fixtures``, loaded as a pytest plugin).

Needs the Debian package ``docker-registry`` and the ``testing`` extra (pytest, trustme, pyjwt, bcrypt).
"""
