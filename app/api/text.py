"""Whether what a client sent is text: the one test for bodies, headers and echoed input.

A JSON body is UTF-8 (RFC 8259); a Python `str` from a client may still hold lone surrogates
(`"\\ud800"` in JSON, or in an API Gateway event), which UTF-8 cannot carry and which an answer
or a log line could not encode.
"""


def is_unicode(value: str) -> bool:
    """Whether `value` holds no lone surrogate: the code points UTF-8 cannot carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_utf8(data: bytes) -> bool:
    """Whether `data` is UTF-8 text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
