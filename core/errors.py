"""The one exception type that Latent Lab raises for bad input or missing resources.

Pages catch `LatentLabError` and show its message with `st.error`; anything else is a bug.
"""


class LatentLabError(ValueError):
    """A problem the user can fix: a bad value, a missing file, an unusable upload.

    The message always names the offending value and, where there is a fixed set, the valid choices.
    """
