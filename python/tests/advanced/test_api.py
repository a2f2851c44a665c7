"""The server-side apply body: JSON the API server's YAML parser reads back exactly."""

import json

from controller_examples.advanced.api import apply_body

CONTENT = {
    "index.html": "h\u00e9llo \u20ac \u4f60\u597d \U0001f600 \U0001f469\u200d\U0001f467 \U0001d400",
    "x": "a\x85b\x7f\u2028",
}
OBJECT = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello-content"}, "data": CONTENT}


def test_the_body_is_json_for_the_same_object():
    assert json.loads(apply_body(OBJECT)) == OBJECT


def test_characters_beyond_u_ffff_are_raw_utf8_never_surrogate_escapes():
    body = apply_body(OBJECT)
    assert "\U0001f600".encode() in body
    assert "\U0001d400".encode() in body
    assert b"\\ud8" not in body.lower() and b"\\udc" not in body.lower()


def test_other_non_ascii_characters_are_escaped_as_yaml_reads_them():
    body = apply_body(OBJECT)
    # \u0085 raw would be a YAML line break (folded into a space), \u007f raw a refused control character.
    for escape in (b"\\u00e9", b"\\u20ac", b"\\u4f60", b"\\u200d", b"\\u0085", b"\\u007f", b"\\u2028"):
        assert escape in body
    assert all(ord(character) < 0x7F or ord(character) > 0xFFFF for character in body.decode())
