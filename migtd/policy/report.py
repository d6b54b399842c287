"""Former home of the 822-byte supplemental-data codec, now :mod:`migtd.attest.suppl`.

The DCAP verifier writes those bytes and the policy engines read them, so the
one codec lives next to the verifier (``policy`` may import ``attest``'s
low-level codecs; ``attest`` never imports ``policy``). Every caller in the
tree imports :mod:`migtd.attest.suppl`; this name remains only so branches
written against it keep working until they are merged, and can be removed then.
"""

from migtd.attest.suppl import (
           FIELDS,
           REPORT_SIZE,
           RTMR_FIELDS,
           field,
           iso8601,
           rtmrs,
           tcb_date_seconds,
           tcb_status,
           with_field,
)

__all__ = ["FIELDS", "REPORT_SIZE", "RTMR_FIELDS", "field", "iso8601", "rtmrs", "tcb_date_seconds", "tcb_status",
           "with_field"]
