"""RA-TLS: the certificate carrying quote and event log, TLS 1.3 over the frames,
peer verification per attestation mode, and the MSK exchange records."""
