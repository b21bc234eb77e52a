"""Reads Prometheus text exposition on stdin with prometheus_client's own parser.

Prints every sample as JSON: a list of {"family", "type", "help", "name", "labels",
"value"}. Fails (exit 1, the reason on stderr) when the text does not parse, when a
family has no HELP text, or when a sample (name and labels) appears twice, which a
Prometheus server would reject.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    samples = []
    seen = set()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and friends
        print(f"prometheus_client could not parse the metrics: {error!r}", file=sys.stderr)
        return 1
    for family in families:
        if not family.documentation:
            print(f"family {family.name} has no HELP text", file=sys.stderr)
            return 1
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                print(f"sample {key} appears twice", file=sys.stderr)
                return 1
            seen.add(key)
            samples.append(
                {
                    "family": family.name,
                    "type": family.type,
                    "help": family.documentation,
                    "name": sample.name,
                    "labels": sample.labels,
                    "value": sample.value,
                }
            )
    json.dump(samples, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
