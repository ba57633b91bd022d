"""``gwctl probe webrtc``: many WebRTC sessions to many cameras at once, recorded.

The tool the vendor's support asked a customer for (the forum report in the reference
material): it opens N signalling sessions across M cameras of one gateway with a timing
pattern, records every request and response (masked), says whether the reported fault --
``400 Bad Request`` on a session request while another session of the same gateway is
still being set up -- is present, finds the highest concurrency that works, and writes a
support-case bundle (`gwctl.probe.bundle`).
"""
