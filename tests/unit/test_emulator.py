"""The embedded AWS hands every event moto accepted to its observer, in EventBridge's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from tokengate.emulator import SecretsManagerEmulator


def test_the_emulator_hands_over_each_event_moto_accepted_in_eventbridges_shape() -> None:
    seen: list[dict[str, object]] = []
    with SecretsManagerEmulator(on_events=seen.extend) as emulator:
        client = boto3.client(
            "events",
            endpoint_url=emulator.url,
            region_name="eu-west-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        answer = client.put_events(
            Entries=[
                {
                    "Source": "tokengate",
                    "DetailType": "Client Issued",
                    "Detail": '{"a": 1}',
                    "Time": datetime.fromtimestamp(1_800_000_000, UTC),
                },
                {"Source": "tokengate", "DetailType": "Client Issued", "Detail": ""},  # refused: no detail
            ]
        )
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.put_events(Entries=[{"Source": "x", "DetailType": "y", "Detail": "{}", "EventBusName": "nope"}])
    assert answer["FailedEntryCount"] == 1
    (event,) = seen
    assert event == {
        "version": "0",
        "id": answer["Entries"][0]["EventId"],
        "detail-type": "Client Issued",
        "source": "tokengate",
        "account": "123456789012",
        "time": "2027-01-15T08:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"a": 1},
    }
