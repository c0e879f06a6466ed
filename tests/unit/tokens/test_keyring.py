"""The signing keyring: which key signs, which tags verify, what the secret may hold, and how the
admin function reads, creates and changes it (against the embedded Secrets Manager)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.deployment.config import StoreSettings
from tokengate_core.errors import ConflictError, CorruptRecordError, NotFoundError
from tokengate_core.records.store import SecretsStore
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

REFRESH = keyring.REFRESH_SECONDS
KEY = "K" * 32  # the shortest value a key may have


def token_of(ring: keyring.KeyRing, now: float) -> tokens.ParsedToken:
    parsed = tokens.parse(tokens.generate(tokens.new_key_id(), ring.signer(now)))
    assert parsed is not None
    return parsed


def secret(**entries: Any) -> str:
    return json.dumps({"version": keyring.FORMAT_VERSION, **entries})


# -- signing and verifying ----------------------------------------------------------------------------


def test_a_new_key_signs_only_once_every_container_has_had_time_to_load_it() -> None:
    ring = keyring.new_keyring(0.0)
    assert ring.signing_key(0.0).name == keyring.FIRST_KEY, "alone, the first key signs at once"
    rotated = ring.with_new_key(1000.0)
    assert [k.name for k in rotated.keys] == ["k1", "k2"]
    assert rotated.signing_key(1000.0 + REFRESH - 1).name == "k1"
    assert rotated.signing_key(1000.0 + REFRESH).name == "k2"
    assert [k["signing"] for k in rotated.describe(1000.0)] == [True, False]


def test_a_key_made_with_the_stack_signs_from_the_start() -> None:
    ring = keyring.parse(secret(k1=KEY, k2="L" * 32, added_at={"k2": 500.0}))
    assert ring.keys[0].added_at is None
    assert ring.signing_key(0.0).name == "k1" and ring.signing_key(500.0 + REFRESH).name == "k2"


def test_tags_of_every_key_verify_and_no_other_rings_do() -> None:
    ring = keyring.new_keyring(0.0)
    old = token_of(ring, 0.0)
    rotated = ring.with_new_key(0.0)
    new = token_of(rotated, REFRESH)
    assert rotated.signing_key(REFRESH).name == "k2"
    assert rotated.verify(old) and rotated.verify(new), "old keys keep verifying the tokens they signed"
    assert not ring.verify(new), "the ring before the rotation does not know the new key"
    assert not keyring.new_keyring(0.0).verify(old), "another deployment's keys never verify our tags"


def test_a_tag_covers_the_key_id_and_the_nonce() -> None:
    ring = keyring.new_keyring(0.0)
    genuine = token_of(ring, 0.0)
    other = token_of(ring, 0.0)
    copied = tokens.parse(tokens.generate(other.key_id, lambda signed: genuine.tag))
    assert copied is not None and not ring.verify(copied), "a tag copied onto another id does not verify"


def test_the_derived_secret_survives_rotations_and_depends_on_its_label() -> None:
    ring = keyring.new_keyring(0.0)
    page = ring.derive(b"page-token")
    assert ring.with_new_key(1.0).with_new_key(2.0).derive(b"page-token") == page
    assert ring.derive(b"another purpose") != page
    assert keyring.new_keyring(0.0).derive(b"page-token") != page
    assert page not in {k.secret for k in ring.keys}


def test_a_ring_holds_at_most_max_keys() -> None:
    ring = keyring.new_keyring(0.0)
    for n in range(keyring.MAX_KEYS - 1):
        ring = ring.with_new_key(float(n))
    assert ring.keys[-1].name == f"k{keyring.MAX_KEYS}"
    with pytest.raises(keyring.KeyRingError, match=f"at most {keyring.MAX_KEYS} keys"):
        ring.with_new_key(0.0)


def test_legacy_ids_and_imports_survive_a_new_key_and_a_round_trip() -> None:
    legacy, holder, digest = tokens.new_key_id(), tokens.new_key_id(), tokens.digest("an imported value")
    ring = keyring.new_keyring(0.0).with_legacy_key_ids({legacy}).with_imported(digest.hex(), holder)
    again = keyring.parse(ring.with_new_key(5.0).to_json())
    assert again.is_legacy(legacy) and not again.is_legacy(holder)
    assert again.imported_key_id(digest) == holder
    assert [(k.name, k.secret, k.added_at) for k in again.keys[:1]] == [
        (k.name, k.secret, k.added_at) for k in ring.keys
    ]
    assert again.keys[1].added_at == 5.0


# -- what an operator sees ----------------------------------------------------------------------------


def test_no_key_value_is_in_a_repr_or_a_description() -> None:
    ring = keyring.new_keyring(0.0).with_new_key(1.0)
    shown = repr(ring) + repr(ring.keys) + json.dumps(ring.describe(2.0))
    for key in ring.keys:
        assert key.secret.decode() not in shown
    assert ring.describe(2.0) == [
        {"name": "k1", "added_at": 0.0, "signing": True},
        {"name": "k2", "added_at": 1.0, "signing": False},
    ]


# -- the secret's format -------------------------------------------------------------------------------


def test_keys_are_ordered_by_number_not_by_name() -> None:
    entries = {f"k{n}": chr(ord("A") + n) * 32 for n in (10, 2, 1)}
    assert [k.name for k in keyring.parse(secret(**entries)).keys] == ["k1", "k2", "k10"]


def test_the_written_form_is_what_parse_reads() -> None:
    ring = keyring.new_keyring(7.0).with_new_key(8.0)
    data = json.loads(ring.to_json())
    assert data["version"] == keyring.FORMAT_VERSION and data["added_at"] == {"k1": 7.0, "k2": 8.0}
    assert "legacy_key_ids" not in data and "imported" not in data, "empty parts are left out"
    assert keyring.parse(ring.to_json()) == ring


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not JSON"),
        ("[]", "no supported version"),
        (json.dumps({"version": 2, "k1": KEY}), "no supported version"),
        (secret(k1=KEY, added_at=[]), "added_at is not an object"),
        (secret(k1=KEY, added_at={"k1": True}), "added_at of k1 is not a time"),
        (secret(k1=KEY, added_at={"k1": "yesterday"}), "added_at of k1 is not a time"),
        (secret(k1=KEY, legacy_key_ids="abc"), "legacy_key_ids"),
        (secret(k1=KEY, legacy_key_ids=["not a key id"]), "legacy_key_ids"),
        (secret(), "1 to 16 keys"),
        (secret(**{f"k{n}": KEY for n in range(1, keyring.MAX_KEYS + 2)}), "1 to 16 keys"),
        (secret(k0=KEY), "'k0' is not a key"),
        (secret(k01=KEY), "'k01' is not a key"),
        (secret(K1=KEY), "'K1' is not a key"),
        (secret(k1="short"), "'k1' is not a key"),
        (secret(k1="with space " * 4), "'k1' is not a key"),
        (secret(k1=7), "'k1' is not a key"),
    ],
)
def test_anything_tokengate_does_not_write_is_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(keyring.KeyRingError, match=problem):
        keyring.parse(text)


def test_a_refusal_never_quotes_a_key_value() -> None:
    value = "s3cr3t-" * 5 + " "  # a space: not a valid key value
    with pytest.raises(keyring.KeyRingError) as refused:
        keyring.parse(secret(k1=value))
    assert "s3cr3t" not in str(refused.value)
    long_name = "x" * 100
    with pytest.raises(keyring.KeyRingError) as refused:
        keyring.parse(secret(**{long_name: KEY}))
    assert KEY not in str(refused.value) and long_name not in str(refused.value), "a name is cut short"


def test_the_secret_lives_under_the_clients_prefix_and_is_never_a_client() -> None:
    name = keyring.secret_name("tokengate/clients/")
    assert name == "tokengate/clients/keyring"
    assert not tokens.is_key_id(name.rsplit("/", 1)[-1])


# -- the secret in Secrets Manager ---------------------------------------------------------------------


def store() -> SecretsStore:
    return make_store(StoreSettings())


def client() -> Any:
    return boto3.client("secretsmanager")


def test_ensure_creates_the_keyring_once(emulator: SecretsManagerEmulator) -> None:
    with pytest.raises(NotFoundError):
        keyring.load(store())
    made = keyring.ensure(store(), 3.0)
    assert keyring.ensure(store(), 99.0) == made, "the second call reads what the first made"
    assert keyring.load(store())[0] == made
    assert emulator.calls("CreateSecret") == 1


def test_ensure_reads_the_keyring_another_container_created_first(emulator: SecretsManagerEmulator) -> None:
    theirs = keyring.ensure(store(), 1.0)

    class LateReader(SecretsStore):
        """Read before the other container's create, so its own create comes second."""

        reads = 0

        def read_named(self, name: str) -> tuple[str, str]:
            LateReader.reads += 1
            if LateReader.reads == 1:
                raise NotFoundError("not yet")
            return super().read_named(name)

    late = LateReader(client(), StoreSettings().secret_prefix)
    assert keyring.ensure(late, 2.0) == theirs
    assert emulator.calls("CreateSecret") == 2, "its create was refused, and it read the winner's ring"


def test_a_corrupt_keyring_secret_is_a_corrupt_record_naming_no_value(emulator: SecretsManagerEmulator) -> None:
    real = store()
    real.create_named(keyring.secret_name(real.prefix), secret(k1="tiny"), request_token="t" * 32, description="x")
    with pytest.raises(CorruptRecordError, match="'k1' is not a key") as refused:
        keyring.load(real)
    assert "tiny" not in str(refused.value)


def test_of_two_changes_from_one_base_the_second_is_a_conflict(emulator: SecretsManagerEmulator) -> None:
    keyring.ensure(store(), 0.0)
    base = keyring.load(store())

    class StaleReader(SecretsStore):
        """Reads the version both writers started from."""

        def read_named(self, name: str) -> tuple[str, str]:
            return base[0].to_json(), base[1]

    first = keyring.update(store(), lambda ring: ring.with_new_key(1.0))
    real = store()
    with pytest.raises(ConflictError, match="concurrently"):
        keyring.update(StaleReader(real._client, real.prefix), lambda ring: ring.with_new_key(2.0))
    assert keyring.load(store())[0] == first, "the first change stands"
    assert [k.name for k in first.keys] == ["k1", "k2"]
