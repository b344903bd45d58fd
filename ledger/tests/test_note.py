"""C2SP signed notes and checkpoints: interoperability with Go's sumdb/note and refusal of foreign keys."""

from __future__ import annotations

import pytest

from ledger import note

# The example key and note of golang.org/x/mod/sumdb/note (Ed25519 signatures are deterministic).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNED = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_keys_and_signatures_match_the_go_note_package() -> None:
    signer = note.parse_signer_key(GO_SKEY)
    assert signer.verifier_key == GO_VKEY
    assert signer.text == GO_SKEY
    assert signer.sign(GO_TEXT) == GO_SIGNED
    assert note.open_note(GO_SIGNED, GO_VKEY) == GO_TEXT


def test_key_hash_is_the_first_four_bytes_of_sha256_of_name_newline_alg_and_key() -> None:
    import hashlib

    signer = note.generate_signer("example.org/log")
    expected = hashlib.sha256(b"example.org/log\n\x01" + signer.public_bytes).digest()[:4]
    assert signer.key_hash == expected
    assert signer.verifier_key.split("+")[1] == expected.hex()


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    ours = note.generate_signer("yingdu.example/ledger")
    theirs = note.generate_signer("yingdu.example/ledger")  # same name, different key
    signed = note.sign_checkpoint(theirs, "yingdu.example/ledger", 3, bytes(32))
    with pytest.raises(note.NoteError, match="not signed by the key"):
        note.open_checkpoint(signed, ours.verifier_key)


def test_a_checkpoint_with_an_altered_body_is_refused() -> None:
    signer = note.generate_signer("yingdu.example/ledger")
    signed = note.sign_checkpoint(signer, "yingdu.example/ledger", 3, bytes(32))
    forged = signed.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(note.NoteError, match="invalid signature"):
        note.open_checkpoint(forged, signer.verifier_key)


def test_signatures_by_unknown_keys_are_ignored_when_ours_is_present() -> None:
    ours = note.generate_signer("yingdu.example/ledger")
    witness = note.generate_signer("witness.example")
    signed = note.sign_checkpoint(ours, "yingdu.example/ledger", 7, bytes(range(32)))
    cosigned = signed + witness.sign(note.parse_note(signed).text).split("\n\n", 1)[1]
    cp = note.open_checkpoint(cosigned, ours.verifier_key, origin="yingdu.example/ledger")
    assert (cp.origin, cp.size, cp.root_hash) == ("yingdu.example/ledger", 7, bytes(range(32)))


def test_checkpoint_text_is_origin_size_and_base64_root() -> None:
    text = note.format_checkpoint("example.org/log", 10, bytes(32))
    assert text == "example.org/log\n10\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    assert note.parse_checkpoint(text).size == 10
    for bad in ["example.org/log\n010\nAAAA\n", "example.org/log\n10\n", "example.org/log\n10\n!!\n"]:
        with pytest.raises(note.NoteError):
            note.parse_checkpoint(bad)


def test_wrong_origin_is_refused_when_one_is_required() -> None:
    signer = note.generate_signer("a.example")
    signed = note.sign_checkpoint(signer, "a.example", 1, bytes(32))
    with pytest.raises(note.NoteError, match="origin"):
        note.open_checkpoint(signed, signer.verifier_key, origin="b.example")


@pytest.mark.parametrize(
    "vkey",
    [
        "name+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpcMQ==",
        "bad name+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_verifier_key(vkey)
