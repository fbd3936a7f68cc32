//! Whole EPCIS XML documents converted, each compared with the exact JSON expected and checked
//! against GS1's EPCIS 2.0 JSON schema (read at test time from the shared vectors).

use lotline_epcis_xml::{EPCIS_CONTEXT, XmlError, document_to_json};
use serde_json::{Value, json};

const GS1_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/epcis/EPCIS-JSON-Schema.json"
);

/// GS1's schema (draft-07), `format` asserted, no network.
fn gs1_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(GS1_SCHEMA).unwrap_or_else(|e| panic!("{GS1_SCHEMA}: {e}"));
    let schema: Value = serde_json::from_str(&text).expect("GS1's schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .offline()
        .build(&schema)
        .expect("GS1's EPCIS schema compiles")
}

/// Converts `xml`, asserts the document is valid against GS1's schema, returns it.
fn convert(xml: &str) -> Value {
    let doc = document_to_json(xml).unwrap_or_else(|e| panic!("{e}"));
    let v = gs1_validator();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    doc
}

/// A 2.0 document around `events` (with the extension namespaces `xmlns`).
fn doc2(xmlns: &str, events: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" {xmlns}
    schemaVersion="2.0" creationDate="2025-03-04T09:00:00.000Z">
  <EPCISBody>
    <EventList>
{events}
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>
"#
    )
}

fn document(context: Value, events: Value) -> Value {
    json!({
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-03-04T09:00:00.000Z",
        "epcisBody": {"eventList": events}
    })
}

#[test]
fn object_event_with_transactions_sources_and_destinations() {
    let xml = doc2(
        "",
        r#"
      <ObjectEvent>
        <eventTime>2025-03-04T08:15:00.000Z</eventTime>
        <recordTime>2025-03-04T08:15:02.000Z</recordTime>
        <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
        <eventID>urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b</eventID>
        <certificationInfo>https://cert.example.org/organic/NL-BIO-01</certificationInfo>
        <epcList>
          <epc>urn:epc:id:sgtin:8712345.012345.1001</epc>
          <epc>https://id.gs1.org/01/08712345123450/21/1002</epc>
        </epcList>
        <action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
        <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
        <persistentDisposition>
          <set>urn:epcglobal:cbv:disp:completeness_verified</set>
          <unset>urn:epcglobal:cbv:disp:completeness_inferred</unset>
        </persistentDisposition>
        <readPoint><id>urn:epc:id:sgln:8712345.00001.0</id></readPoint>
        <bizLocation><id>urn:epc:id:sgln:8712345.00000.0</id></bizLocation>
        <bizTransactionList>
          <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:8712345000004:PO-2025-117</bizTransaction>
          <bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:epcglobal:cbv:bt:8712345000004:DA-88</bizTransaction>
          <bizTransaction>https://erp.example.com/orders/117</bizTransaction>
        </bizTransactionList>
        <quantityList>
          <quantityElement>
            <epcClass>urn:epc:class:lgtin:8712345.012345.LOT-7</epcClass>
            <quantity>250.5</quantity>
            <uom>KGM</uom>
          </quantityElement>
          <quantityElement>
            <epcClass>urn:epc:idpat:sgtin:8712345.012346.*</epcClass>
            <quantity>12</quantity>
          </quantityElement>
        </quantityList>
        <sourceList>
          <source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:8712345.00000</source>
          <source type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:8712345.00000.0</source>
        </sourceList>
        <destinationList>
          <destination type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:4012345.00000</destination>
          <destination type="https://example.com/sdt/importer">urn:epc:id:pgln:4012345.00011</destination>
        </destinationList>
      </ObjectEvent>"#,
    );
    let expected = document(
        json!([EPCIS_CONTEXT]),
        json!([{
            "type": "ObjectEvent",
            "eventTime": "2025-03-04T08:15:00.000Z",
            "recordTime": "2025-03-04T08:15:02.000Z",
            "eventTimeZoneOffset": "+01:00",
            "eventID": "urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "certificationInfo": "https://cert.example.org/organic/NL-BIO-01",
            "epcList": [
                "urn:epc:id:sgtin:8712345.012345.1001",
                "https://id.gs1.org/01/08712345123450/21/1002"
            ],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "persistentDisposition": {
                "set": ["completeness_verified"],
                "unset": ["completeness_inferred"]
            },
            "readPoint": {"id": "urn:epc:id:sgln:8712345.00001.0"},
            "bizLocation": {"id": "urn:epc:id:sgln:8712345.00000.0"},
            "bizTransactionList": [
                {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:8712345000004:PO-2025-117"},
                {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:8712345000004:DA-88"},
                {"bizTransaction": "https://erp.example.com/orders/117"}
            ],
            "quantityList": [
                {"epcClass": "urn:epc:class:lgtin:8712345.012345.LOT-7", "quantity": 250.5, "uom": "KGM"},
                {"epcClass": "urn:epc:idpat:sgtin:8712345.012346.*", "quantity": 12}
            ],
            "sourceList": [
                {"type": "owning_party", "source": "urn:epc:id:pgln:8712345.00000"},
                {"type": "location", "source": "urn:epc:id:sgln:8712345.00000.0"}
            ],
            "destinationList": [
                {"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00000"},
                {"type": "https://example.com/sdt/importer", "destination": "urn:epc:id:pgln:4012345.00011"}
            ]
        }]),
    );
    let got = convert(&xml);
    assert_eq!(got, expected, "{got:#}");
    // Quantities are numbers, the integer one an integer.
    let q = &got["epcisBody"]["eventList"][0]["quantityList"];
    assert_eq!(q[1]["quantity"].as_u64(), Some(12));
}

#[test]
fn aggregation_event() {
    let xml = doc2(
        "",
        r#"
      <AggregationEvent>
        <eventTime>2025-03-04T07:00:00Z</eventTime>
        <eventTimeZoneOffset>-05:00</eventTimeZoneOffset>
        <parentID>urn:epc:id:sscc:8712345.1234567890</parentID>
        <childEPCs>
          <epc>urn:epc:id:sgtin:8712345.012345.2001</epc>
          <epc>urn:epc:id:sgtin:8712345.012345.2002</epc>
        </childEPCs>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep>
        <disposition>urn:epcglobal:cbv:disp:container_closed</disposition>
        <readPoint><id>urn:epc:id:sgln:8712345.00001.0</id></readPoint>
        <childQuantityList>
          <quantityElement>
            <epcClass>urn:epc:class:lgtin:8712345.012345.LOT-7</epcClass>
            <quantity>40</quantity>
            <uom>KGM</uom>
          </quantityElement>
        </childQuantityList>
      </AggregationEvent>"#,
    );
    let expected = document(
        json!([EPCIS_CONTEXT]),
        json!([{
            "type": "AggregationEvent",
            "eventTime": "2025-03-04T07:00:00Z",
            "eventTimeZoneOffset": "-05:00",
            "parentID": "urn:epc:id:sscc:8712345.1234567890",
            "childEPCs": [
                "urn:epc:id:sgtin:8712345.012345.2001",
                "urn:epc:id:sgtin:8712345.012345.2002"
            ],
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "container_closed",
            "readPoint": {"id": "urn:epc:id:sgln:8712345.00001.0"},
            "childQuantityList": [
                {"epcClass": "urn:epc:class:lgtin:8712345.012345.LOT-7", "quantity": 40, "uom": "KGM"}
            ]
        }]),
    );
    assert_eq!(convert(&xml), expected);
}

#[test]
fn transformation_event_with_quantity_lists_and_ilmd() {
    let xml = doc2(
        r#"xmlns:cbvmda="urn:epcglobal:cbv:mda" xmlns:farm="https://ns.farm.example/epcis/""#,
        r#"
      <TransformationEvent>
        <eventTime>2025-03-03T14:30:00.000+01:00</eventTime>
        <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
        <inputQuantityList>
          <quantityElement>
            <epcClass>urn:epc:class:lgtin:8712345.011111.HARVEST-12</epcClass>
            <quantity>1200</quantity>
            <uom>KGM</uom>
          </quantityElement>
          <quantityElement>
            <epcClass>https://id.gs1.org/01/08712345000028/10/SALT-3</epcClass>
            <quantity>+2.75</quantity>
            <uom>KGM</uom>
          </quantityElement>
        </inputQuantityList>
        <outputQuantityList>
          <quantityElement>
            <epcClass>urn:epc:class:lgtin:8712345.012345.LOT-7</epcClass>
            <quantity>1150.25</quantity>
            <uom>KGM</uom>
          </quantityElement>
        </outputQuantityList>
        <transformationID>urn:uuid:6b1d2a66-6c6e-4b44-9a0e-5f3c5a8e2d01</transformationID>
        <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
        <disposition>urn:epcglobal:cbv:disp:active</disposition>
        <readPoint><id>urn:epc:id:sgln:8712345.00002.0</id></readPoint>
        <ilmd>
          <cbvmda:lotNumber>LOT-7</cbvmda:lotNumber>
          <cbvmda:bestBeforeDate>2025-09-30</cbvmda:bestBeforeDate>
          <farm:harvest>
            <farm:field>North-3</farm:field>
            <farm:picker>P-12</farm:picker>
            <farm:picker>P-19</farm:picker>
          </farm:harvest>
        </ilmd>
      </TransformationEvent>"#,
    );
    let expected = document(
        json!([EPCIS_CONTEXT, {"farm": "https://ns.farm.example/epcis/"}]),
        json!([{
            "type": "TransformationEvent",
            "eventTime": "2025-03-03T14:30:00.000+01:00",
            "eventTimeZoneOffset": "+01:00",
            "inputQuantityList": [
                {"epcClass": "urn:epc:class:lgtin:8712345.011111.HARVEST-12", "quantity": 1200, "uom": "KGM"},
                {"epcClass": "https://id.gs1.org/01/08712345000028/10/SALT-3", "quantity": 2.75, "uom": "KGM"}
            ],
            "outputQuantityList": [
                {"epcClass": "urn:epc:class:lgtin:8712345.012345.LOT-7", "quantity": 1150.25, "uom": "KGM"}
            ],
            "transformationID": "urn:uuid:6b1d2a66-6c6e-4b44-9a0e-5f3c5a8e2d01",
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": "urn:epc:id:sgln:8712345.00002.0"},
            "ilmd": {
                "cbvmda:lotNumber": "LOT-7",
                "cbvmda:bestBeforeDate": "2025-09-30",
                "farm:harvest": {"farm:field": "North-3", "farm:picker": ["P-12", "P-19"]}
            }
        }]),
    );
    assert_eq!(convert(&xml), expected);
}

#[test]
fn sensor_elements() {
    let xml = doc2(
        r#"xmlns:gs1="https://gs1.org/voc/" xmlns:cold="https://ns.coldchain.example/""#,
        r#"
      <ObjectEvent>
        <eventTime>2025-03-04T10:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <epcList><epc>urn:epc:id:sscc:8712345.1234567890</epc></epcList>
        <action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:sensor_reporting</bizStep>
        <readPoint><id>urn:epc:id:sgln:8712345.00003.0</id></readPoint>
        <sensorElementList>
          <sensorElement>
            <sensorMetadata time="2025-03-04T09:59:00Z" deviceID="urn:epc:id:giai:8712345.T-44"
                deviceMetadata="https://devices.example.com/T-44" cold:calibratedOn="2025-01-15"/>
            <sensorReport type="gs1:Temperature" value="4.5" uom="CEL" minValue="2" maxValue="6.25"
                meanValue="4.1" sDev="0.3" percRank="95" percValue="5.9"/>
            <sensorReport type="gs1:RelativeHumidity" value="-0.5E1" uom="P1" exception="gs1:ALARM_CONDITION"/>
            <sensorReport type="gs1:Temperature" booleanValue="true" stringValue="door closed"/>
          </sensorElement>
          <sensorElement>
            <sensorReport type="gs1:Mass" value="12" uom="KGM"/>
          </sensorElement>
        </sensorElementList>
      </ObjectEvent>"#,
    );
    let expected = document(
        json!([EPCIS_CONTEXT, {"cold": "https://ns.coldchain.example/"}]),
        json!([{
            "type": "ObjectEvent",
            "eventTime": "2025-03-04T10:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": ["urn:epc:id:sscc:8712345.1234567890"],
            "action": "OBSERVE",
            "bizStep": "sensor_reporting",
            "readPoint": {"id": "urn:epc:id:sgln:8712345.00003.0"},
            "sensorElementList": [
                {
                    "sensorMetadata": {
                        "time": "2025-03-04T09:59:00Z",
                        "deviceID": "urn:epc:id:giai:8712345.T-44",
                        "deviceMetadata": "https://devices.example.com/T-44",
                        "cold:calibratedOn": "2025-01-15"
                    },
                    "sensorReport": [
                        {
                            "type": "gs1:Temperature", "value": 4.5, "uom": "CEL",
                            "minValue": 2, "maxValue": 6.25, "meanValue": 4.1, "sDev": 0.3,
                            "percRank": 95, "percValue": 5.9
                        },
                        {"type": "gs1:RelativeHumidity", "value": -5.0, "uom": "P1", "exception": "gs1:ALARM_CONDITION"},
                        {"type": "gs1:Temperature", "booleanValue": true, "stringValue": "door closed"}
                    ]
                },
                {"sensorReport": [{"type": "gs1:Mass", "value": 12, "uom": "KGM"}]}
            ]
        }]),
    );
    assert_eq!(convert(&xml), expected);
}

#[test]
fn error_declaration() {
    let xml = doc2(
        r#"xmlns:qa="https://qa.example.org/ns#""#,
        r#"
      <ObjectEvent>
        <eventTime>2025-03-01T12:00:00Z</eventTime>
        <eventTimeZoneOffset>+02:00</eventTimeZoneOffset>
        <eventID>ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0</eventID>
        <errorDeclaration>
          <declarationTime>2025-03-02T08:00:00Z</declarationTime>
          <reason>urn:epcglobal:cbv:er:incorrect_data</reason>
          <correctiveEventIDs>
            <correctiveEventID>urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8</correctiveEventID>
            <correctiveEventID>urn:uuid:2f3e8a0c-1c4c-4e4b-9c35-6b7d1f2a3c4d</correctiveEventID>
          </correctiveEventIDs>
          <qa:ticket>QA-5521</qa:ticket>
        </errorDeclaration>
        <epcList><epc>urn:epc:id:sgtin:8712345.012345.1001</epc></epcList>
        <action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>
        <disposition>urn:epcglobal:cbv:disp:in_progress</disposition>
      </ObjectEvent>"#,
    );
    let expected = document(
        json!([EPCIS_CONTEXT, {"qa": "https://qa.example.org/ns#"}]),
        json!([{
            "type": "ObjectEvent",
            "eventTime": "2025-03-01T12:00:00Z",
            "eventTimeZoneOffset": "+02:00",
            "eventID": "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0",
            "errorDeclaration": {
                "declarationTime": "2025-03-02T08:00:00Z",
                "reason": "incorrect_data",
                "correctiveEventIDs": [
                    "urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8",
                    "urn:uuid:2f3e8a0c-1c4c-4e4b-9c35-6b7d1f2a3c4d"
                ],
                "qa:ticket": "QA-5521"
            },
            "epcList": ["urn:epc:id:sgtin:8712345.012345.1001"],
            "action": "OBSERVE",
            "bizStep": "receiving",
            "disposition": "in_progress"
        }]),
    );
    assert_eq!(convert(&xml), expected);
}

#[test]
fn user_extensions_in_their_own_namespaces() {
    // A prefixed namespace, one declared as the default namespace of its element (no prefix to
    // reuse) and one whose prefix is not a valid term: the latter two get generated prefixes.
    let xml = doc2(
        r#"xmlns:lot="https://ns.lotline.example/ext/" xmlns:my_ns="https://other.example/v1/""#,
        r#"
      <ObjectEvent>
        <eventTime>2025-03-04T11:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <epcList><epc>urn:epc:id:sgtin:8712345.012345.1001</epc></epcList>
        <action>OBSERVE</action>
        <bizStep>https://ns.lotline.example/steps/washing</bizStep>
        <readPoint>
          <id>urn:epc:id:sgln:8712345.00001.0</id>
          <lot:gate>B</lot:gate>
        </readPoint>
        <lot:grower>
          <lot:name>Van Dijk &amp; Zn</lot:name>
          <lot:certificate>SKAL-1</lot:certificate>
          <lot:certificate>GGN-4052852000000</lot:certificate>
          <lot:address><lot:city>Zwolle</lot:city></lot:address>
        </lot:grower>
        <lot:note lot:lang="nl">  gewassen </lot:note>
        <lot:empty/>
        <lot:grower><lot:name>Bakker</lot:name></lot:grower>
        <crate xmlns="https://crates.example/">CR-9</crate>
        <my_ns:flag>yes</my_ns:flag>
      </ObjectEvent>"#,
    );
    let expected = document(
        json!([
            EPCIS_CONTEXT,
            {"lot": "https://ns.lotline.example/ext/"},
            {"ext1": "https://crates.example/"},
            {"ext2": "https://other.example/v1/"}
        ]),
        json!([{
            "type": "ObjectEvent",
            "eventTime": "2025-03-04T11:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": ["urn:epc:id:sgtin:8712345.012345.1001"],
            "action": "OBSERVE",
            "bizStep": "https://ns.lotline.example/steps/washing",
            "readPoint": {"id": "urn:epc:id:sgln:8712345.00001.0", "lot:gate": "B"},
            "lot:grower": [
                {
                    "lot:name": "Van Dijk & Zn",
                    "lot:certificate": ["SKAL-1", "GGN-4052852000000"],
                    "lot:address": {"lot:city": "Zwolle"}
                },
                {"lot:name": "Bakker"}
            ],
            "lot:note": {"lot:lang": "nl", "@value": "gewassen"},
            "lot:empty": "",
            "ext1:crate": "CR-9",
            "ext2:flag": "yes"
        }]),
    );
    assert_eq!(convert(&xml), expected);
}

#[test]
fn association_and_transaction_events() {
    let xml = doc2(
        "",
        r#"
      <AssociationEvent>
        <eventTime>2025-03-04T12:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <parentID>urn:epc:id:grai:8712345.00001.77</parentID>
        <childEPCs><epc>urn:epc:id:giai:8712345.T-44</epc></childEPCs>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:assembling</bizStep>
        <readPoint><id>urn:epc:id:sgln:8712345.00001.0</id></readPoint>
      </AssociationEvent>
      <TransactionEvent>
        <eventTime>2025-03-04T12:05:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <bizTransactionList>
          <bizTransaction type="urn:epcglobal:cbv:btt:inv">urn:epcglobal:cbv:bt:8712345000004:INV-9</bizTransaction>
        </bizTransactionList>
        <epcList><epc>urn:epc:id:sscc:8712345.1234567890</epc></epcList>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
      </TransactionEvent>"#,
    );
    let expected = document(
        json!([EPCIS_CONTEXT]),
        json!([
            {
                "type": "AssociationEvent",
                "eventTime": "2025-03-04T12:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "parentID": "urn:epc:id:grai:8712345.00001.77",
                "childEPCs": ["urn:epc:id:giai:8712345.T-44"],
                "action": "ADD",
                "bizStep": "assembling",
                "readPoint": {"id": "urn:epc:id:sgln:8712345.00001.0"}
            },
            {
                "type": "TransactionEvent",
                "eventTime": "2025-03-04T12:05:00Z",
                "eventTimeZoneOffset": "+00:00",
                "bizTransactionList": [
                    {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:8712345000004:INV-9"}
                ],
                "epcList": ["urn:epc:id:sscc:8712345.1234567890"],
                "action": "ADD",
                "bizStep": "shipping"
            }
        ]),
    );
    assert_eq!(convert(&xml), expected);
}

#[test]
fn epcis_1_2_document_with_extension_wrappers() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:1"
    xmlns:cbvmda="urn:epcglobal:cbv:mda" xmlns:farm="https://ns.farm.example/epcis/"
    schemaVersion="1.2" creationDate="2025-03-04T09:00:00.000Z">
  <EPCISHeader>
    <sbdh:StandardBusinessDocumentHeader xmlns:sbdh="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader">
      <sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>
    </sbdh:StandardBusinessDocumentHeader>
  </EPCISHeader>
  <EPCISBody>
    <EventList>
      <ObjectEvent>
        <eventTime>2025-03-02T06:00:00Z</eventTime>
        <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
        <baseExtension>
          <eventID>urn:uuid:7b0c1e52-2b4f-4c1e-9a55-1f0e3d2c1b0a</eventID>
          <errorDeclaration>
            <declarationTime>2025-03-02T09:00:00Z</declarationTime>
            <reason>urn:epcglobal:cbv:er:did_not_occur</reason>
          </errorDeclaration>
        </baseExtension>
        <epcList/>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
        <disposition>urn:epcglobal:cbv:disp:active</disposition>
        <readPoint>
          <id>urn:epc:id:sgln:8712345.00002.0</id>
          <extension><farm:bay>4</farm:bay></extension>
        </readPoint>
        <bizTransactionList/>
        <extension>
          <quantityList>
            <quantityElement>
              <epcClass>urn:epc:class:lgtin:8712345.011111.HARVEST-12</epcClass>
              <quantity>1200</quantity>
              <uom>KGM</uom>
            </quantityElement>
          </quantityList>
          <sourceList>
            <source type="urn:epcglobal:cbv:sdt:possessing_party">urn:epc:id:pgln:8712345.00000</source>
          </sourceList>
          <destinationList>
            <destination type="urn:epcglobal:cbv:sdt:possessing_party">urn:epc:id:pgln:8712345.00000</destination>
          </destinationList>
          <ilmd>
            <cbvmda:lotNumber>HARVEST-12</cbvmda:lotNumber>
            <farm:parcel>North-3</farm:parcel>
          </ilmd>
        </extension>
      </ObjectEvent>
      <AggregationEvent>
        <eventTime>2025-03-02T07:00:00Z</eventTime>
        <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
        <parentID>urn:epc:id:sscc:8712345.1234567890</parentID>
        <childEPCs/>
        <action>ADD</action>
        <bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep>
        <extension>
          <childQuantityList>
            <quantityElement>
              <epcClass>urn:epc:class:lgtin:8712345.011111.HARVEST-12</epcClass>
              <quantity>600</quantity>
              <uom>KGM</uom>
            </quantityElement>
          </childQuantityList>
        </extension>
      </AggregationEvent>
      <extension>
        <TransformationEvent>
          <eventTime>2025-03-03T14:30:00Z</eventTime>
          <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
          <inputEPCList><epc>urn:epc:id:sgtin:8712345.011111.5</epc></inputEPCList>
          <outputEPCList><epc>urn:epc:id:sgtin:8712345.012345.6</epc></outputEPCList>
          <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
          <ilmd>
            <cbvmda:lotNumber>LOT-7</cbvmda:lotNumber>
          </ilmd>
        </TransformationEvent>
      </extension>
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>"#;
    let expected = document(
        json!([EPCIS_CONTEXT, {"farm": "https://ns.farm.example/epcis/"}]),
        json!([
            {
                "type": "ObjectEvent",
                "eventTime": "2025-03-02T06:00:00Z",
                "eventTimeZoneOffset": "+01:00",
                "eventID": "urn:uuid:7b0c1e52-2b4f-4c1e-9a55-1f0e3d2c1b0a",
                "errorDeclaration": {
                    "declarationTime": "2025-03-02T09:00:00Z",
                    "reason": "did_not_occur"
                },
                "epcList": [],
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": {"id": "urn:epc:id:sgln:8712345.00002.0", "farm:bay": "4"},
                "bizTransactionList": [],
                "quantityList": [
                    {"epcClass": "urn:epc:class:lgtin:8712345.011111.HARVEST-12", "quantity": 1200, "uom": "KGM"}
                ],
                "sourceList": [{"type": "possessing_party", "source": "urn:epc:id:pgln:8712345.00000"}],
                "destinationList": [
                    {"type": "possessing_party", "destination": "urn:epc:id:pgln:8712345.00000"}
                ],
                "ilmd": {"cbvmda:lotNumber": "HARVEST-12", "farm:parcel": "North-3"}
            },
            {
                "type": "AggregationEvent",
                "eventTime": "2025-03-02T07:00:00Z",
                "eventTimeZoneOffset": "+01:00",
                "parentID": "urn:epc:id:sscc:8712345.1234567890",
                "childEPCs": [],
                "action": "ADD",
                "bizStep": "packing",
                "childQuantityList": [
                    {"epcClass": "urn:epc:class:lgtin:8712345.011111.HARVEST-12", "quantity": 600, "uom": "KGM"}
                ]
            },
            {
                "type": "TransformationEvent",
                "eventTime": "2025-03-03T14:30:00Z",
                "eventTimeZoneOffset": "+01:00",
                "inputEPCList": ["urn:epc:id:sgtin:8712345.011111.5"],
                "outputEPCList": ["urn:epc:id:sgtin:8712345.012345.6"],
                "bizStep": "commissioning",
                "ilmd": {"cbvmda:lotNumber": "LOT-7"}
            }
        ]),
    );
    assert_eq!(convert(xml), expected);
}

fn invalid_parts(e: XmlError) -> (String, String) {
    match e {
        XmlError::Invalid { path, message, .. } => (path, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn malformed_xml_is_an_error() {
    for xml in [
        "",
        "not xml",
        "<epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:2\">",
        "<a><b></a></b>",
        "<epcis:EPCISDocument creationDate=\"x\"/>",
    ] {
        match document_to_json(xml) {
            Err(XmlError::Malformed(m)) => assert!(!m.is_empty()),
            other => panic!("{xml:?}: {other:?}"),
        }
    }
    // A DTD (and with it entity expansion) is refused by the parser.
    let dtd = r#"<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>"#;
    assert!(matches!(document_to_json(dtd), Err(XmlError::Malformed(_))));
}

#[test]
fn a_wrong_root_element_is_an_error() {
    let query = r#"<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2" creationDate="2025-01-01T00:00:00Z"/>"#;
    let err = document_to_json(query).unwrap_err();
    assert!(matches!(err, XmlError::WrongRoot { .. }), "{err:?}");
    assert!(err.to_string().contains("EPCISQueryDocument"), "{err}");
    // The right name in no namespace, or in another one, is not an EPCIS document either.
    for xml in [
        r#"<EPCISDocument creationDate="2025-01-01T00:00:00Z"><EPCISBody><EventList/></EPCISBody></EPCISDocument>"#,
        r#"<e:EPCISDocument xmlns:e="urn:example" creationDate="2025-01-01T00:00:00Z"/>"#,
    ] {
        assert!(
            matches!(document_to_json(xml), Err(XmlError::WrongRoot { .. })),
            "{xml}"
        );
    }
}

#[test]
fn a_missing_event_time_is_an_error_naming_the_event() {
    let xml = doc2(
        "",
        r#"
      <ObjectEvent>
        <eventTime>2025-03-04T11:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <action>OBSERVE</action>
      </ObjectEvent>
      <AggregationEvent>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
        <action>OBSERVE</action>
      </AggregationEvent>"#,
    );
    let err = document_to_json(&xml).unwrap_err();
    let text = err.to_string();
    let (path, message) = invalid_parts(err);
    assert_eq!(path, "EPCISDocument/EPCISBody/EventList/AggregationEvent");
    assert!(message.contains("eventTime"), "{message}");
    assert!(text.contains("line 12"), "{text}");
}

#[test]
fn other_invalid_documents_are_errors_naming_the_place() {
    let event = |inner: &str| {
        doc2(
            r#"xmlns:ex="https://ex.example/""#,
            &format!(
                "<ObjectEvent><eventTime>2025-03-04T11:00:00Z</eventTime>\
                 <eventTimeZoneOffset>+00:00</eventTimeZoneOffset>{inner}</ObjectEvent>"
            ),
        )
    };
    let cases = [
        (
            event("<quantityList><quantityElement><epcClass>urn:epc:class:lgtin:8712345.012345.L</epcClass><quantity>ten</quantity></quantityElement></quantityList>"),
            "ObjectEvent/quantityList/quantityElement/quantity",
            "not a decimal",
        ),
        (
            event("<bizStp>urn:epcglobal:cbv:bizstep:shipping</bizStp>"),
            "ObjectEvent/bizStp",
            "not an element of an EPCIS event",
        ),
        (
            event("<action>ADD</action><action>OBSERVE</action>"),
            "ObjectEvent/action[2]",
            "repeated",
        ),
        (
            event("<epcList><ex:epc>x</ex:epc></epcList>"),
            "ObjectEvent/epcList/epc",
            "expected an epc",
        ),
        (
            event("<sensorElementList><sensorElement><sensorReport type=\"gs1:Temperature\" value=\"warm\"/></sensorElement></sensorElementList>"),
            "sensorElement/sensorReport",
            "value attribute",
        ),
        (
            event("<sensorElementList><sensorElement><sensorMetadata/></sensorElement></sensorElementList>"),
            "sensorElementList/sensorElement",
            "needs a sensorReport",
        ),
        (
            event("<readPoint><ex:x>1</ex:x></readPoint>"),
            "ObjectEvent/readPoint",
            "id element is missing",
        ),
        (
            event("<bizStep></bizStep>"),
            "ObjectEvent/bizStep",
            "empty",
        ),
        (
            event("<ilmd><lotNumber>L</lotNumber></ilmd>"),
            "ObjectEvent/ilmd/lotNumber",
            "extension namespace",
        ),
        (
            event("<ex:a>text<ex:b/></ex:a>"),
            "ObjectEvent/ex:a",
            "mixed content",
        ),
        (
            event("<errorDeclaration><reason>x</reason></errorDeclaration>"),
            "ObjectEvent/errorDeclaration",
            "declarationTime",
        ),
        (
            doc2("", "<ObjectEvnt/>"),
            "EventList/ObjectEvnt",
            "not an EPCIS event",
        ),
        (
            r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2"><EPCISBody><EventList/></EPCISBody></epcis:EPCISDocument>"#.to_owned(),
            "EPCISDocument",
            "creationDate",
        ),
        (
            r#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" creationDate="2025-01-01T00:00:00Z"/>"#.to_owned(),
            "EPCISDocument",
            "EPCISBody",
        ),
    ];
    for (xml, at, what) in cases {
        let (path, message) = invalid_parts(document_to_json(&xml).unwrap_err());
        // Paths use local names: `ex:a` is named `a`.
        let at = at.replace("ex:", "");
        assert!(path.ends_with(&at), "{path:?} should end with {at:?}");
        assert!(message.contains(what), "{message:?} should say {what:?}");
    }
}

#[test]
fn an_empty_event_list_converts() {
    let doc = convert(&doc2("", ""));
    assert_eq!(doc["epcisBody"]["eventList"], json!([]));
}

#[test]
fn the_schema_check_is_not_vacuous() {
    // The same validator refuses what the conversion must not produce: a quantity as a string,
    // a CBV URN where EPCIS 2.0 JSON wants the bare word.
    let v = gs1_validator();
    let mut doc = convert(&doc2(
        "",
        r#"<ObjectEvent><eventTime>2025-03-04T11:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action>
        <bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>
        <quantityList><quantityElement><epcClass>urn:epc:class:lgtin:8712345.012345.L</epcClass>
        <quantity>3</quantity></quantityElement></quantityList></ObjectEvent>"#,
    ));
    assert!(v.is_valid(&doc));
    let q = "/epcisBody/eventList/0/quantityList/0/quantity";
    *doc.pointer_mut(q).expect("a quantity") = json!("3");
    assert!(!v.is_valid(&doc));
    *doc.pointer_mut(q).expect("a quantity") = json!(3);
    assert!(v.is_valid(&doc));
    doc["epcisBody"]["eventList"][0]["bizStep"] = json!("urn:epcglobal:cbv:bizstep:receiving");
    assert!(!v.is_valid(&doc));
}

#[test]
fn truncated_and_damaged_documents_give_errors_not_panics() {
    let xml = doc2(
        r#"xmlns:ex="https://ex.example/""#,
        r#"<ObjectEvent><eventTime>2025-03-04T11:00:00Z</eventTime>
        <eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action>
        <quantityList><quantityElement><epcClass>urn:epc:class:lgtin:8712345.012345.L</epcClass>
        <quantity>3</quantity></quantityElement></quantityList>
        <sensorElementList><sensorElement><sensorReport type="gs1:Temperature" value="4"/>
        </sensorElement></sensorElementList><ex:a><ex:b>1</ex:b></ex:a></ObjectEvent>"#,
    );
    assert!(document_to_json(&xml).is_ok());
    for (i, _) in xml.char_indices() {
        // Every prefix, and the document with one character removed.
        let _ = document_to_json(&xml[..i]);
        let mut damaged = xml.clone();
        damaged.remove(i);
        let _ = document_to_json(&damaged);
    }
}

#[test]
fn epcis_elements_qualified_with_the_epcis_namespace_are_read_as_unqualified_ones() {
    // The schemas declare them unqualified, but some writers put every element in the
    // document's namespace (here the default one).
    let xml = r#"<EPCISDocument xmlns="urn:epcglobal:epcis:xsd:2" creationDate="2025-03-04T09:00:00.000Z">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2025-03-04T11:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
    <epcList><epc>urn:epc:id:sgtin:8712345.012345.1001</epc></epcList>
    <action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>
  </ObjectEvent></EventList></EPCISBody>
</EPCISDocument>"#;
    let expected = document(
        json!([EPCIS_CONTEXT]),
        json!([{
            "type": "ObjectEvent",
            "eventTime": "2025-03-04T11:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": ["urn:epc:id:sgtin:8712345.012345.1001"],
            "action": "OBSERVE",
            "bizStep": "receiving"
        }]),
    );
    assert_eq!(convert(xml), expected);
}
