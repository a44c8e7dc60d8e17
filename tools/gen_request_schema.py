#!/usr/bin/env python3
"""Generates src/kafka/validate/schema.rs, the table of request layouts that Runnel's request
validator walks, from Apache Kafka's JSON message schemas.

Usage:
    python3 tools/gen_request_schema.py KAFKA_MESSAGE_DIR [KAFKA_COMMIT] > src/kafka/validate/schema.rs

KAFKA_MESSAGE_DIR is clients/src/main/resources/common/message of an apache/kafka checkout.
Only the structure of each request is kept (field types, versions, nullable, flexible and
tagged versions); names are kept as comments for reading. The JSON files are not part of
Runnel.

The APIs and version ranges are read from ADVERTISED in src/kafka/apis/api_versions.rs: the
request of every advertised API is emitted, and the script fails when a layout does not cover
every advertised version. Versions are open-ended ("N+" fields apply to every later version),
so a later Kafka version whose request layout did not change is covered by the same table.

Versions newer than the schema files given (NEWER) are added from the list of their changes
below, taken from Kafka's schema history (KIP numbers given) and checked against
kafka-protocol 0.18's generated decoders by the validator's tests; a change is applied only
when the schema's validVersions stops below it, so a newer Kafka checkout is used as it is.
"""

import json
import os
import re
import sys

ADVERTISED_RS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "src", "kafka", "apis", "api_versions.rs")


def advertised(path=ADVERTISED_RS):
    """[(Kafka request name, min, max)] from ADVERTISED in api_versions.rs, in its order."""
    with open(path) as f:
        text = f.read()
    body = text[text.index("pub const ADVERTISED"):]
    body = body[:body.index("];")]
    found = [(m.group(1), int(m.group(2)), int(m.group(3)))
             for m in re.finditer(r"\(ApiKey::(\w+),\s*(-?\d+),\s*(-?\d+)\)", body)]
    if not found:
        sys.exit(f"no ADVERTISED entries found in {path}")
    return found


# Versions newer than a schema directory may hold (the Oct 2024 Kafka mirror stops at 4.0's
# trunk), each with the changes it makes to the request layout: ("versions", field path, new
# versions) narrows a field, ("after", field path, field) inserts a field after another. A
# version without changes has the layout of the version before.
NEWER = {
    # KIP-890 bump (Kafka 4.0); KIP-516: v13 addresses topics by id (Kafka 4.1).
    "Produce": [
        (12, []),
        (13, [("versions", ["TopicData", "Name"], "0-12"),
              ("after", ["TopicData", "Name"], {"name": "TopicId", "type": "uuid", "versions": "13+"})]),
    ],
    # KIP-1166: the follower's high watermark, a tagged field of each partition (Kafka 4.1).
    "Fetch": [
        (18, [("after", ["Topics", "Partitions", "ReplicaDirectoryId"],
               {"name": "HighWatermark", "type": "int64", "versions": "18+",
                "taggedVersions": "18+", "tag": 1})]),
    ],
    # KIP-1102: a top-level error code in the response only (Kafka 4.1).
    "Metadata": [(13, [])],
    # GROUP_ID_NOT_FOUND (Kafka 4.0).
    "DescribeGroups": [(6, [])],
    # New error codes (Kafka 4.0).
    "ConsumerGroupDescribe": [(1, [])],
    # KIP-1073: IncludeFencedBrokers (Kafka 4.1).
    "DescribeCluster": [
        (2, [("after", ["EndpointType"], {"name": "IncludeFencedBrokers", "type": "bool", "versions": "2+"})]),
    ],
    # KIP-1152: TransactionalIdPattern (Kafka 4.1).
    "ListTransactions": [
        (2, [("after", ["DurationFilter"],
              {"name": "TransactionalIdPattern", "type": "string", "versions": "2+",
               "nullableVersions": "2+"})]),
    ],
    # KIP-860: AllowReplicationFactorChange (Kafka 4.1).
    "AlterPartitionReassignments": [
        (1, [("after", ["TimeoutMs"], {"name": "AllowReplicationFactorChange", "type": "bool", "versions": "1+"})]),
    ],
}


def find_field(fields, path):
    """The list holding the field at `path` (names from the message root) and its index."""
    for i, f in enumerate(fields):
        if f["name"] == path[0]:
            if len(path) == 1:
                return fields, i
            return find_field(f["fields"], path[1:])
    sys.exit(f"no field {'.'.join(path)} in the schema")


def apply_newer(api, msg, valid):
    """Raises valid[1] through the NEWER versions the schema lacks, changing the layout."""
    for version, changes in NEWER.get(api, []):
        if valid[1] >= version:
            continue
        for op, path, arg in changes:
            fields, i = find_field(msg["fields"], path)
            if op == "versions":
                fields[i]["versions"] = arg
            elif op == "after":
                fields.insert(i + 1, dict(arg))
            else:
                sys.exit(f"unknown change {op}")
        valid[1] = version


PRIMITIVES = {
    "bool": "Bool", "int8": "Int8", "int16": "Int16", "uint16": "Uint16", "int32": "Int32",
    "uint32": "Uint32", "int64": "Int64", "float64": "Float64", "uuid": "Uuid",
    "string": "Str", "bytes": "Bytes", "records": "Records",
}

MAX = 0x7FFF


def load(path):
    """Kafka's schema files are JSON with // line comments."""
    with open(path) as f:
        text = "\n".join(l for l in f.read().splitlines() if not l.strip().startswith("//"))
    return json.loads(text)


def versions(spec):
    """'3+', '0-5', '4', 'none' -> (min, max); an empty range is (1, 0)."""
    if spec is None or spec == "none":
        return (1, 0)
    if spec.endswith("+"):
        return (int(spec[:-1]), MAX)
    if "-" in spec:
        a, b = spec.split("-")
        return (int(a), int(b))
    return (int(spec), int(spec))


def vtext(v):
    return f"V({v[0]}, {v[1]})"


class Gen:
    def __init__(self):
        self.structs = []  # (comment, [field rust text])
        self.shared = {}  # struct name -> index, reset per message

    def struct(self, name, fields, defs):
        idx = len(self.structs)
        self.structs.append(None)
        out = [self.field(f, defs) for f in fields]
        self.structs[idx] = (name, out)
        return idx

    def kind(self, ty, field, defs):
        if ty in PRIMITIVES:
            return f"Kind::{PRIMITIVES[ty]}"
        if ty.startswith("[]"):
            inner = ty[2:]
            if inner in PRIMITIVES:
                return f"Kind::Array(&Kind::{PRIMITIVES[inner]})"
            return f"Kind::Array(&Kind::Struct({self.named(inner, field, defs)}))"
        return f"Kind::Struct({self.named(ty, field, defs)})"

    def named(self, name, field, defs):
        fields = field.get("fields")
        if fields is not None:
            return self.struct(name, fields, defs)
        # A reference to a struct defined elsewhere in the file: emit it once per message.
        if name not in self.shared:
            self.shared[name] = self.struct(name, defs[name], defs)
        return self.shared[name]

    def field(self, f, defs):
        kind = self.kind(f["type"], f, defs)
        ver = versions(f.get("versions"))
        nullable = versions(f.get("nullableVersions"))
        tag = "None"
        if "tag" in f:
            tag = f"Some(Tagged {{ tag: {int(f['tag'])}, versions: {vtext(versions(f.get('taggedVersions')))} }})"
        flexible = "None"
        if "flexibleVersions" in f:
            flexible = f"Some({vtext(versions(f['flexibleVersions']))})"
        return (f"        Field {{ name: {json.dumps(f['name'])}, kind: {kind}, versions: {vtext(ver)}, "
                f"nullable: {vtext(nullable)}, tag: {tag}, flexible: {flexible} }},")


def collect_defs(msg):
    defs = {}

    def walk(fields):
        for f in fields:
            if "fields" in f:
                t = f["type"][2:] if f["type"].startswith("[]") else f["type"]
                defs.setdefault(t, f["fields"])
                walk(f["fields"])

    for s in msg.get("commonStructs", []):
        defs[s["name"]] = s["fields"]
        walk(s["fields"])
    walk(msg["fields"])
    return defs


# Responses the broker decodes from other brokers (src/interbroker/): the APIs its inter-broker
# client sends, with the versions it sends. A peer's answer is walked with these layouts before
# kafka-protocol decodes it, as client requests are.
PEER_RESPONSES = [("WriteTxnMarkers", 1, 1), ("OffsetForLeaderEpoch", 2, 4), ("Fetch", 4, 17),
                  ("SaslHandshake", 1, 1), ("SaslAuthenticate", 2, 2)]


def main():
    msgdir = sys.argv[1]
    commit = sys.argv[2] if len(sys.argv) > 2 else "unknown"
    g = Gen()
    messages = []
    header = load(os.path.join(msgdir, "RequestHeader.json"))
    hroot = g.struct("RequestHeader", header["fields"], collect_defs(header))
    hflex = versions(header["flexibleVersions"])
    for api, lo, hi in advertised():
        msg = load(os.path.join(msgdir, f"{api}Request.json"))
        valid = list(versions(msg["validVersions"]))
        apply_newer(api, msg, valid)
        if not (valid[0] <= lo and hi <= valid[1]):
            sys.exit(f"{api}: advertised v{lo}-{hi}, the layout covers v{valid[0]}-{valid[1]}")
        g.shared = {}
        root = g.struct(msg["name"], msg["fields"], collect_defs(msg))
        messages.append(
            f"    Message {{ name: {json.dumps(msg['name'])}, api_key: {int(msg['apiKey'])}, "
            f"valid: {vtext(valid)}, flexible: {vtext(versions(msg.get('flexibleVersions')))}, root: {root} }},")
    responses = []
    rheader = load(os.path.join(msgdir, "ResponseHeader.json"))
    g.shared = {}
    rhroot = g.struct("ResponseHeader", rheader["fields"], collect_defs(rheader))
    rhflex = versions(rheader["flexibleVersions"])
    for api, lo, hi in PEER_RESPONSES:
        msg = load(os.path.join(msgdir, f"{api}Response.json"))
        valid = list(versions(msg["validVersions"]))
        if not (valid[0] <= lo and hi <= valid[1]):
            sys.exit(f"{api} response: sent v{lo}-{hi}, the layout covers v{valid[0]}-{valid[1]}")
        g.shared = {}
        root = g.struct(msg["name"], msg["fields"], collect_defs(msg))
        responses.append(
            f"    Message {{ name: {json.dumps(msg['name'])}, api_key: {int(msg['apiKey'])}, "
            f"valid: {vtext([lo, hi])}, flexible: {vtext(versions(msg.get('flexibleVersions')))}, root: {root} }},")
    out = []
    out.append("//! Request layouts of the APIs Runnel advertises, generated from Apache Kafka's JSON")
    out.append(f"//! message schemas (apache/kafka {commit}) and the newer versions listed in")
    out.append("//! `tools/gen_request_schema.py` (NEWER), by that script.")
    out.append("//! Do not edit: regenerate (see docs/protocol-validation.md).")
    out.append("")
    out.append("use super::spec::{Field, Kind, Message, Tagged, V};")
    out.append("")
    out.append("/// The request header (versions 0-2).")
    out.append(f"pub static HEADER: Message = Message {{ name: \"RequestHeader\", api_key: -1, valid: V(0, 2), flexible: {vtext(hflex)}, root: {hroot} }};")
    out.append("")
    out.append("/// One entry per advertised API.")
    out.append("pub static MESSAGES: &[Message] = &[")
    out.extend(messages)
    out.append("];")
    out.append("")
    out.append("/// The response header (versions 0-1), for answers from other brokers.")
    out.append(f"pub static RESPONSE_HEADER: Message = Message {{ name: \"ResponseHeader\", api_key: -1, valid: V(0, 1), flexible: {vtext(rhflex)}, root: {rhroot} }};")
    out.append("")
    out.append("/// One entry per API the inter-broker client sends, with the versions it sends.")
    out.append("pub static RESPONSES: &[Message] = &[")
    out.extend(responses)
    out.append("];")
    out.append("")
    out.append("/// Struct layouts, indexed by [`Kind::Struct`] and [`Message::root`].")
    out.append("pub static STRUCTS: &[&[Field]] = &[")
    for i, (name, fields) in enumerate(g.structs):
        out.append(f"    // {i}: {name}")
        out.append("    &[")
        out.extend(fields)
        out.append("    ],")
    out.append("];")
    print("\n".join(out))


if __name__ == "__main__":
    main()
