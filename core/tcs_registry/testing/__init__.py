"""Test kit: the real CNCF distribution registry on loopback, a token server, and an image pusher.

Needs the Debian package ``docker-registry`` and the ``test`` extra (trustme, pyjwt, bcrypt).
"""
