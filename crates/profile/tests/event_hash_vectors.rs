//! Published vectors for the CBV 2.0 event hash ID (`lotline_profile::event_hash`).
//!
//! The events, expected pre-hash strings and expected hash IDs come from the reference
//! implementation of the algorithm, github.com/RalphTro/epcis-event-hash-generator: documents in
//! `tests/examples/documents/` (or `tests/examples/`) and expectations in
//! `tests/examples/expected/CBV2.0/<name>.prehashes` / `.hashes`. Each vector names its files.

use lotline_profile::event_hash::{
    HashError, event_hash_id_with_context, hash_id_of_pre_hash, parse_hash_id,
    pre_hash_with_context,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Vector {
    /// Source files in RalphTro/epcis-event-hash-generator, and the event's index there.
    source: &'static str,
    /// The document's `@context`.
    context: &'static str,
    event: &'static str,
    pre_hash: &'static str,
    hash: &'static str,
}

const VARIOUS_CONTEXT: &str = r#"["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"example": "https://ns.example.com/epcis/"}, {"cbvmda": "urn:epcglobal:cbv:mda:"}]"#;

const VECTORS: &[Vector] = &[
    Vector {
        // ObjectEvent with bizTransactionList, sourceList, destinationList.
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 1; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 1",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "ObjectEvent", "eventTime": "2019-10-21T11:00:30.000+01:00",
            "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sscc:5200001.0111111146"],
            "action": "OBSERVE", "bizStep": "departing",
            "readPoint": {"id": "urn:epc:id:sgln:5200001.99901.0"},
            "bizTransactionList": [
                {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:5200001000008:4711"},
                {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:5200001000008:RE1099"}],
            "sourceList": [{"type": "possessing_party", "source": "urn:epc:id:pgln:5200001.00000"}],
            "destinationList": [
                {"type": "possessing_party", "destination": "urn:epc:id:pgln:4000001.98765"},
                {"type": "location", "destination": "urn:epc:id:sgln:4012345.00012.0"}]}"#,
        pre_hash: "eventType=ObjectEventeventTime=2019-10-21T10:00:30.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/00/052000011111111461action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-departingreadPointid=https://id.gs1.org/414/5200001999012bizTransactionListtype=https://ref.gs1.org/cbv/BTT-desadvbizTransaction=urn:epcglobal:cbv:bt:5200001000008:4711type=https://ref.gs1.org/cbv/BTT-invbizTransaction=urn:epcglobal:cbv:bt:5200001000008:RE1099sourceListtype=https://ref.gs1.org/cbv/SDT-possessing_partysource=https://id.gs1.org/417/5200001000008destinationListtype=https://ref.gs1.org/cbv/SDT-locationdestination=https://id.gs1.org/414/4012345000122type=https://ref.gs1.org/cbv/SDT-possessing_partydestination=https://id.gs1.org/417/4000001987658",
        hash: "ni:///sha-256;253f0178f96349eedc207505b49044a602129605cf692e3d9f1f36c8bd1dfb0d?ver=CBV2.0",
    },
    Vector {
        // ObjectEvent with disposition.
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 3; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 3",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "ObjectEvent", "eventTime": "2019-10-21T15:45:00.000+01:00",
            "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sscc:4012345.0111111111"],
            "action": "OBSERVE", "bizStep": "inspecting", "disposition": "in_progress",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00024.0"}}"#,
        pre_hash: "eventType=ObjectEventeventTime=2019-10-21T14:45:00.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/00/040123451111111110action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-inspectingdisposition=https://ref.gs1.org/cbv/Disp-in_progressreadPointid=https://id.gs1.org/414/4012345000245",
        hash: "ni:///sha-256;c50842eb714406394a77fb7b517fea621c78a61f65549874de7c9e019afe7b6f?ver=CBV2.0",
    },
    Vector {
        // ObjectEvent with a quantity (LGTIN class) and ILMD (CBV master data attribute).
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 4; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 4",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "ObjectEvent", "eventTime": "2019-10-21T14:58:56.000+02:00",
            "eventTimeZoneOffset": "+02:00",
            "quantityList": [{"epcClass": "urn:epc:class:lgtin:4054739.099914.20160711",
                              "quantity": 600, "uom": "KGM"}],
            "action": "ADD", "bizStep": "commissioning",
            "readPoint": {"id": "urn:epc:id:sgln:4054739.00001.0"},
            "ilmd": {"cbvmda:bestBeforeDate": "2019-10-21"}}"#,
        pre_hash: "eventType=ObjectEventeventTime=2019-10-21T12:58:56.000ZeventTimeZoneOffset=+02:00quantityListquantityElementepcClass=https://id.gs1.org/01/04054739999148/10/20160711quantity=600uom=KGMaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-commissioningreadPointid=https://id.gs1.org/414/4054739000011ilmd{urn:epcglobal:cbv:mda:}bestBeforeDate=2019-10-21",
        hash: "ni:///sha-256;5f396ea5cb32fe4d0980cb79f5a5eb9640559e9f5a6cefa5c98a7d6ad554b50b?ver=CBV2.0",
    },
    Vector {
        // AggregationEvent with childEPCs (sorted as strings: 107 < 109 < 97 < 98).
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 5; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 5",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "AggregationEvent", "eventTime": "2019-10-21T11:58:56.591+02:00",
            "eventTimeZoneOffset": "+02:00", "parentID": "urn:epc:id:sscc:4047023.0111111122",
            "childEPCs": ["urn:epc:id:sgtin:4047023.077551.98", "urn:epc:id:sgtin:4047023.077551.97",
                          "urn:epc:id:sgtin:4047023.077551.107", "urn:epc:id:sgtin:4047023.077551.109"],
            "action": "ADD", "bizStep": "packing",
            "readPoint": {"id": "urn:epc:id:sgln:4047023.00012.0"}}"#,
        pre_hash: "eventType=AggregationEventeventTime=2019-10-21T09:58:56.591ZeventTimeZoneOffset=+02:00parentID=https://id.gs1.org/00/040470231111111229childEPCsepc=https://id.gs1.org/01/04047023775511/21/107epc=https://id.gs1.org/01/04047023775511/21/109epc=https://id.gs1.org/01/04047023775511/21/97epc=https://id.gs1.org/01/04047023775511/21/98action=ADDbizStep=https://ref.gs1.org/cbv/BizStep-packingreadPointid=https://id.gs1.org/414/4047023000125",
        hash: "ni:///sha-256;c941e6486c561c2be83c28dc228c150eaef9a6befb1015e6cc563982fb7414b6?ver=CBV2.0",
    },
    Vector {
        // AggregationEvent with childQuantityList (one element without uom).
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 6; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 6",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "AggregationEvent", "eventTime": "2019-10-21T17:30:56.591+02:00",
            "eventTimeZoneOffset": "+02:00", "parentID": "urn:epc:id:sscc:4012344.0111111133",
            "childQuantityList": [
                {"epcClass": "urn:epc:class:lgtin:4054739.099902.P2", "quantity": 12, "uom": "KGM"},
                {"epcClass": "urn:epc:class:lgtin:4054739.012345.lot2", "quantity": 17}],
            "action": "ADD", "bizStep": "packing",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00025.0"}}"#,
        pre_hash: "eventType=AggregationEventeventTime=2019-10-21T15:30:56.591ZeventTimeZoneOffset=+02:00parentID=https://id.gs1.org/00/040123441111111333childQuantityListquantityElementepcClass=https://id.gs1.org/01/04054739123451/10/lot2quantity=17quantityElementepcClass=https://id.gs1.org/01/04054739999025/10/P2quantity=12uom=KGMaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-packingreadPointid=https://id.gs1.org/414/4012345000252",
        hash: "ni:///sha-256;cfda50b7ff23682e989bafc3747ac9b752f405305fcde6618280f6be27344f35?ver=CBV2.0",
    },
    Vector {
        // TransactionEvent, time without fraction and negative offset, bizLocation.
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 9; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 9",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "TransactionEvent", "eventTime": "2019-10-21T00:05:00-06:00",
            "eventTimeZoneOffset": "-06:00",
            "epcList": ["urn:epc:id:sgtin:0614141.107340.1", "urn:epc:id:sgtin:0614141.107340.2"],
            "action": "ADD", "bizStep": "shipping",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00000.5"},
            "bizLocation": {"id": "urn:epc:id:sgln:4012345.00000.0"},
            "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345123456:RE100099"}]}"#,
        pre_hash: "eventType=TransactionEventeventTime=2019-10-21T06:05:00.000ZeventTimeZoneOffset=-06:00epcListepc=https://id.gs1.org/01/10614141073402/21/1epc=https://id.gs1.org/01/10614141073402/21/2action=ADDbizStep=https://ref.gs1.org/cbv/BizStep-shippingreadPointid=https://id.gs1.org/414/4012345000009/254/5bizLocationid=https://id.gs1.org/414/4012345000009bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=urn:epcglobal:cbv:bt:4012345123456:RE100099",
        hash: "ni:///sha-256;cf6559dc931963f19ed9cd2fe33c02ef64c8cfd557e5a96b086a87db315b7122?ver=CBV2.0",
    },
    Vector {
        // TransactionEvent with a quantity.
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 10; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 10",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "TransactionEvent", "eventTime": "2019-10-21T14:58:56.591+02:00",
            "eventTimeZoneOffset": "+02:00",
            "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.099988.2014-02-10",
                              "quantity": 2030, "uom": "KGM"}],
            "action": "ADD", "bizStep": "holding",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00025.0"},
            "bizLocation": {"id": "urn:epc:id:sgln:4012345.00002.0"},
            "bizTransactionList": [{"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:4012345123456:RE1099"}]}"#,
        pre_hash: "eventType=TransactionEventeventTime=2019-10-21T12:58:56.591ZeventTimeZoneOffset=+02:00quantityListquantityElementepcClass=https://id.gs1.org/01/04012345999884/10/2014-02-10quantity=2030uom=KGMaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-holdingreadPointid=https://id.gs1.org/414/4012345000252bizLocationid=https://id.gs1.org/414/4012345000023bizTransactionListtype=https://ref.gs1.org/cbv/BTT-invbizTransaction=urn:epcglobal:cbv:bt:4012345123456:RE1099",
        hash: "ni:///sha-256;b741a543ea0b2a4c4bdb3441c7dc196b41710e5b2c9870b211fac8d6d4c93427?ver=CBV2.0",
    },
    Vector {
        // TransformationEvent with transformationID (GDTI) and user-extension ILMD.
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 11; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 11",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "TransformationEvent", "eventTime": "2019-10-21T14:58:56.591+02:00",
            "eventTimeZoneOffset": "+02:00",
            "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25", "urn:epc:id:sgtin:4000001.065432.99886655"],
            "outputEPCList": ["urn:epc:id:sgtin:4012345.077889.25", "urn:epc:id:sgtin:4012345.077889.26",
                              "urn:epc:id:sgtin:4012345.077889.27", "urn:epc:id:sgtin:4012345.077889.28"],
            "transformationID": "urn:epc:id:gdti:4012345.55555.1234", "bizStep": "commissioning",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
            "ilmd": {"example:bestBeforeDate": "2020-11-10", "example:batch": "4711"}}"#,
        pre_hash: "eventType=TransformationEventeventTime=2019-10-21T12:58:56.591ZeventTimeZoneOffset=+02:00inputEPCListepc=https://id.gs1.org/01/04000001654321/21/99886655epc=https://id.gs1.org/01/04012345111224/21/25outputEPCListepc=https://id.gs1.org/01/04012345778892/21/25epc=https://id.gs1.org/01/04012345778892/21/26epc=https://id.gs1.org/01/04012345778892/21/27epc=https://id.gs1.org/01/04012345778892/21/28transformationID=https://id.gs1.org/253/40123455555541234bizStep=https://ref.gs1.org/cbv/BizStep-commissioningreadPointid=https://id.gs1.org/414/4012345000016ilmd{https://ns.example.com/epcis/}batch=4711{https://ns.example.com/epcis/}bestBeforeDate=2020-11-10",
        hash: "ni:///sha-256;335da6c3ab1d932824748791beec4d7ed261ed383f6849f6b8718e8fafb4d298?ver=CBV2.0",
    },
    Vector {
        // TransformationEvent with inputQuantityList incl. an EPC ID pattern (idpat:sgtin).
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 12; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 12",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "TransformationEvent", "eventTime": "2019-10-21T14:58:56.591+02:00",
            "eventTimeZoneOffset": "+02:00",
            "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25", "urn:epc:id:sgtin:4000001.065432.99886655"],
            "outputEPCList": ["urn:epc:id:sgtin:4012345.077889.25", "urn:epc:id:sgtin:4012345.077889.26",
                              "urn:epc:id:sgtin:4012345.077889.27", "urn:epc:id:sgtin:4012345.077889.28"],
            "inputQuantityList": [
                {"epcClass": "urn:epc:class:lgtin:4012345.011111.4444", "quantity": 10, "uom": "KGM"},
                {"epcClass": "urn:epc:class:lgtin:0614141.077777.987", "quantity": 30},
                {"epcClass": "urn:epc:idpat:sgtin:4012345.066666.*", "quantity": 220}],
            "bizStep": "commissioning", "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
            "ilmd": {"example:bestBeforeDate": "2015-11-10", "example:batch": "XYZ"}}"#,
        pre_hash: "eventType=TransformationEventeventTime=2019-10-21T12:58:56.591ZeventTimeZoneOffset=+02:00inputEPCListepc=https://id.gs1.org/01/04000001654321/21/99886655epc=https://id.gs1.org/01/04012345111224/21/25inputQuantityListquantityElementepcClass=https://id.gs1.org/01/00614141777778/10/987quantity=30quantityElementepcClass=https://id.gs1.org/01/04012345111118/10/4444quantity=10uom=KGMquantityElementepcClass=https://id.gs1.org/01/04012345666663quantity=220outputEPCListepc=https://id.gs1.org/01/04012345778892/21/25epc=https://id.gs1.org/01/04012345778892/21/26epc=https://id.gs1.org/01/04012345778892/21/27epc=https://id.gs1.org/01/04012345778892/21/28bizStep=https://ref.gs1.org/cbv/BizStep-commissioningreadPointid=https://id.gs1.org/414/4012345000016ilmd{https://ns.example.com/epcis/}batch=XYZ{https://ns.example.com/epcis/}bestBeforeDate=2015-11-10",
        hash: "ni:///sha-256;36ab2ba0e3eac03d14a630148c63c31da00b8c4f1c311f501eb459e89a6e6350?ver=CBV2.0",
    },
    Vector {
        // TransformationEvent with outputQuantityList and a non-CBV bizStep URI.
        source: "tests/examples/documents/epcisDocWithVariousEventTypes.jsonld, event 13; \
                 tests/examples/expected/CBV2.0/epcisDocWithVariousEventTypes.{prehashes,hashes} line 13",
        context: VARIOUS_CONTEXT,
        event: r#"{"type": "TransformationEvent", "eventTime": "2019-10-21T14:58:56.591+02:00",
            "eventTimeZoneOffset": "+02:00",
            "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25", "urn:epc:id:sgtin:4000001.065432.99886655"],
            "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4054739.099902.P20131121", "quantity": 9520}],
            "transformationID": "urn:epc:id:gdti:4012345.55555.1234",
            "bizStep": "http://epcis.example.com/user/vocab/bizstep/exampling",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}}"#,
        pre_hash: "eventType=TransformationEventeventTime=2019-10-21T12:58:56.591ZeventTimeZoneOffset=+02:00inputEPCListepc=https://id.gs1.org/01/04000001654321/21/99886655epc=https://id.gs1.org/01/04012345111224/21/25outputQuantityListquantityElementepcClass=https://id.gs1.org/01/04054739999025/10/P20131121quantity=9520transformationID=https://id.gs1.org/253/40123455555541234bizStep=http://epcis.example.com/user/vocab/bizstep/examplingreadPointid=https://id.gs1.org/414/4012345000016",
        hash: "ni:///sha-256;756558aa09b2d38c6bcb6e50eab2fcbebd9bde17362a7c4f4686a5d7f5fb013f?ver=CBV2.0",
    },
    Vector {
        // ObjectEvent with three sensor elements of four reports each.
        source: "tests/examples/epcisDocWithSensorDataObjectEvent.jsonld; \
                 tests/examples/expected/CBV2.0/epcisDocWithSensorDataObjectEvent.{prehashes,hashes}",
        context: r#"["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"gs1": "https://gs1.org/voc/"}]"#,
        event: r#"{"type": "ObjectEvent", "eventTime": "2022-02-16T15:00:00.000+01:00",
            "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sgtin:4012345.011111.9876"],
            "action": "OBSERVE", "bizStep": "inspecting",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00005.0"},
            "sensorElementList": [
              {"sensorMetadata": {"time": "2022-02-16T14:05:00.000+01:00", "deviceID": "urn:epc:id:giai:4000001.111",
                 "deviceMetadata": "https://id.gs1.org/8004/4000001111", "rawData": "https://id.example.org/8004/401234599999"},
               "sensorReport": [{"type": "Temperature", "value": 26, "uom": "CEL"},
                 {"type": "AbsoluteHumidity", "value": 12.1, "uom": "A93"},
                 {"type": "Speed", "value": 160, "uom": "KMH"},
                 {"type": "Illuminance", "value": 800, "uom": "LUX"}]},
              {"sensorMetadata": {"time": "2022-02-16T14:35:00.000+01:00", "deviceID": "urn:epc:id:giai:4000001.111",
                 "deviceMetadata": "https://id.gs1.org/8004/4000001111", "rawData": "https://id.example.org/8004/401234599999"},
               "sensorReport": [{"type": "Temperature", "value": 26.1, "uom": "CEL"},
                 {"type": "AbsoluteHumidity", "value": 12.2, "uom": "A93"},
                 {"type": "Speed", "value": 161, "uom": "KMH"},
                 {"type": "Illuminance", "value": 801, "uom": "LUX"}]},
              {"sensorMetadata": {"time": "2022-02-16T14:55:00.000+01:00", "deviceID": "urn:epc:id:giai:4000001.111",
                 "deviceMetadata": "https://id.gs1.org/8004/4000001111", "rawData": "https://id.example.org/8004/401234599999"},
               "sensorReport": [{"type": "Temperature", "value": 26.2, "uom": "CEL"},
                 {"type": "AbsoluteHumidity", "value": 12.2, "uom": "A93"},
                 {"type": "Speed", "value": 162, "uom": "KMH"},
                 {"type": "Illuminance", "value": 802, "uom": "LUX"}]}]}"#,
        pre_hash: "eventType=ObjectEventeventTime=2022-02-16T14:00:00.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/01/04012345111118/21/9876action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-inspectingreadPointid=https://id.gs1.org/414/4012345000054sensorElementsensorMetadatatime=2022-02-16T13:05:00.000ZdeviceID=https://id.gs1.org/8004/4000001111deviceMetadata=https://id.gs1.org/8004/4000001111rawData=https://id.gs1.org/8004/401234599999sensorReporttype=https://ref.gs1.org/voc/AbsoluteHumidityvalue=12.1uom=A93sensorReporttype=https://ref.gs1.org/voc/Illuminancevalue=800uom=LUXsensorReporttype=https://ref.gs1.org/voc/Speedvalue=160uom=KMHsensorReporttype=https://ref.gs1.org/voc/Temperaturevalue=26uom=CELsensorElementsensorMetadatatime=2022-02-16T13:35:00.000ZdeviceID=https://id.gs1.org/8004/4000001111deviceMetadata=https://id.gs1.org/8004/4000001111rawData=https://id.gs1.org/8004/401234599999sensorReporttype=https://ref.gs1.org/voc/AbsoluteHumidityvalue=12.2uom=A93sensorReporttype=https://ref.gs1.org/voc/Illuminancevalue=801uom=LUXsensorReporttype=https://ref.gs1.org/voc/Speedvalue=161uom=KMHsensorReporttype=https://ref.gs1.org/voc/Temperaturevalue=26.1uom=CELsensorElementsensorMetadatatime=2022-02-16T13:55:00.000ZdeviceID=https://id.gs1.org/8004/4000001111deviceMetadata=https://id.gs1.org/8004/4000001111rawData=https://id.gs1.org/8004/401234599999sensorReporttype=https://ref.gs1.org/voc/AbsoluteHumidityvalue=12.2uom=A93sensorReporttype=https://ref.gs1.org/voc/Illuminancevalue=802uom=LUXsensorReporttype=https://ref.gs1.org/voc/Speedvalue=162uom=KMHsensorReporttype=https://ref.gs1.org/voc/Temperaturevalue=26.2uom=CEL",
        hash: "ni:///sha-256;bea63f2741e3f4ae7cab8abba1be5bf172109f749bedaa7e8620fb9bd26847b5?ver=CBV2.0",
    },
    Vector {
        // ObjectEvent with every field: persistentDisposition, sensor data, ILMD, nested user
        // extensions (top level, in ILMD and inside a sensor element); eventID,
        // certificationInfo and errorDeclaration left out.
        source: "tests/examples/documents/ObjectEvent_all_possible_fields.json; \
                 tests/examples/expected/CBV2.0/ObjectEvent_all_possible_fields.{prehashes,hashes}",
        context: r#"["https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"ext3": "http://example.com/ext3/"}, {"ext2": "http://example.com/ext2/"},
            {"ext1": "http://example.com/ext1/"}]"#,
        event: r#"{"type": "ObjectEvent", "eventTime": "2005-04-05T02:33:31.116Z", "eventTimeZoneOffset": "-06:00",
 "eventID": "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
 "certificationInfo": "https://accreditation-council.example.org/certificate/ABC12345",
 "errorDeclaration": {"declarationTime": "2006-11-07T14:00:00.000+01:00", "reason": "incorrect_data",
   "correctiveEventIDs": ["ni:///sha-256;fec9667280c4710a3fa9558b7bc8ddc2ced0dc442d87f82becae24bb6ca6a46f?ver=CBV2.0"]},
 "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"],
 "action": "ADD", "bizStep": "receiving", "disposition": "in_progress",
 "readPoint": {"id": "urn:epc:id:sgln:0012345.11111.400"},
 "bizLocation": {"id": "urn:epc:id:sgln:0012345.11111.0"},
 "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epc:id:gdti:0614141.00001.1618034"},
   {"type": "pedigree", "bizTransaction": "urn:epc:id:gsrn:0614141.0000010253"}],
 "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200, "uom": "KGM"}],
 "sourceList": [{"type": "location", "source": "urn:epc:id:sgln:4012345.00225.0"},
   {"type": "possessing_party", "source": "urn:epc:id:pgln:4012345.00225"},
   {"type": "owning_party", "source": "urn:epc:id:pgln:4012345.00225"}],
 "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:0614141.00777.0"},
   {"type": "possessing_party", "destination": "urn:epc:id:pgln:0614141.00777"},
   {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00777"}],
 "sensorElementList": [{
   "sensorMetadata": {"time": "2019-04-02T13:05:00.000Z", "deviceID": "urn:epc:id:giai:4000001.111",
     "deviceMetadata": "https://id.gs1.org/8004/4000001111", "rawData": "https://example.org/8004/401234599999",
     "startTime": "2019-04-02T12:55:01.000Z", "endTime": "2019-04-02T13:55:00.000Z",
     "dataProcessingMethod": "https://example.com/253/4012345000054987",
     "bizRules": "https://example.com/253/4012345000054987", "ext1:someFurtherMetadata": "someText"},
   "sensorReport": [{"type": "Temperature", "deviceID": "urn:epc:id:giai:4000001.111",
     "rawData": "https://example.org/8004/401234599999",
     "dataProcessingMethod": "https://example.com/253/4012345000054987", "time": "2019-07-19T13:00:00.000Z",
     "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
     "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N",
     "value": 26, "component": "example:x", "stringValue": "SomeString", "booleanValue": true,
     "hexBinaryValue": "f0f0f0", "uriValue": "https://id.gs1.org/8004/4000001111",
     "minValue": 26, "maxValue": 26.2, "meanValue": 13.2, "percRank": 50, "percValue": 12.7,
     "uom": "CEL", "sDev": 0.1, "ext1:someFurtherReportData": "someText",
     "deviceMetadata": "https://id.gs1.org/8004/4000001111"}],
   "ext1:float": "20", "ext1:time": "2013-06-08T14:58:56.591Z",
   "ext1:array": ["12", "22", "2013-06-08T14:58:56.591Z", "true", "stringInArray",
     {"ext1:object": {"ext1:object": {"ext2:array": ["14", "23.0", "stringInArrayInObjectInArray"],
       "ext2:object": {"ext2:object": {"ext3:string": "stringInObjectInObjectInArray"}},
       "ext2:int": "13", "ext2:string": "stringInObjectInArray"}}}],
   "ext1:boolean": "true",
   "ext1:object": {"ext2:array": ["11", "21", "stringInArrayInObject"],
     "ext2:object": {"ext2:object": {"ext3:string": "stringInObjectInObject"}}, "ext2:string": "stringInObject"},
   "ext1:default": "stringAsDefaultValue", "ext1:int": "10", "ext1:string": "string"}],
 "persistentDisposition": {"unset": ["completeness_inferred"], "set": ["completeness_verified"]},
 "ilmd": {"ext1:float": "20",
   "ext1:array": ["12", "22", "2013-06-08T14:58:56.591Z", "true", "stringInArray",
     {"ext1:object": {"ext1:object": {"ext2:array": ["14", "23.0", "stringInArrayInObjectInArray"],
       "ext2:object": {"ext2:object": {"ext3:string": "stringInObjectInObjectInArray"}},
       "ext2:int": "13", "ext2:string": "stringInObjectInArray"}}}],
   "ext1:object": {"ext2:array": ["11", "21", "stringInArrayInObject"],
     "ext2:object": {"ext2:object": {"ext3:string": "stringInObjectInObject"}}, "ext2:string": "stringInObject"},
   "cbvmda:countryOfExport": "KR", "cbvmda:grossWeight": "3.5", "ext1:int": "10", "cbvmda:netWeight": "3.5",
   "ext1:time": "2013-06-08T14:58:56.591Z", "ext1:boolean": "true", "ext1:default": "stringAsDefaultValue",
   "ext1:string": "string", "cbvmda:countryOfOrigin": "GB", "cbvmda:drainedWeight": "3.5", "cbvmda:lotNumber": "ABC123"},
 "ext1:float": "20", "ext1:time": "2013-06-08T14:58:56.591Z",
 "ext1:array": ["12", "22", "2013-06-08T14:58:56.591Z", "true", "stringInArray",
   {"ext1:object": {"ext1:object": {"ext2:array": ["14", "23.0", "stringInArrayInObjectInArray"],
     "ext2:object": {"ext2:object": {"ext3:string": "stringInObjectInObjectInArray"}},
     "ext2:int": "13", "ext2:string": "stringInObjectInArray"}}}],
 "ext1:boolean": "true",
 "ext1:object": {"ext2:array": ["11", "21", "stringInArrayInObject"],
   "ext2:object": {"ext2:object": {"ext3:string": "stringInObjectInObject"}}, "ext2:string": "stringInObject"},
 "ext1:default": "stringAsDefaultValue", "ext1:int": "10", "ext1:string": "string"}"#,
        pre_hash: "eventType=ObjectEventeventTime=2005-04-05T02:33:31.116ZeventTimeZoneOffset=-06:00epcListepc=https://id.gs1.org/01/10614141073464/21/2018quantityListquantityElementepcClass=https://id.gs1.org/01/04012345123456/10/998877quantity=200uom=KGMaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-receivingdisposition=https://ref.gs1.org/cbv/Disp-in_progresspersistentDispositionset=https://ref.gs1.org/cbv/Disp-completeness_verifiedunset=https://ref.gs1.org/cbv/Disp-completeness_inferredreadPointid=https://id.gs1.org/414/0012345111112/254/400bizLocationid=https://id.gs1.org/414/0012345111112bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pedigreebizTransaction=https://id.gs1.org/8018/061414100000102534type=https://ref.gs1.org/cbv/BTT-pobizTransaction=https://id.gs1.org/253/06141410000121618034sourceListtype=https://ref.gs1.org/cbv/SDT-locationsource=https://id.gs1.org/414/4012345002256type=https://ref.gs1.org/cbv/SDT-owning_partysource=https://id.gs1.org/417/4012345002256type=https://ref.gs1.org/cbv/SDT-possessing_partysource=https://id.gs1.org/417/4012345002256destinationListtype=https://ref.gs1.org/cbv/SDT-locationdestination=https://id.gs1.org/414/0614141007776type=https://ref.gs1.org/cbv/SDT-owning_partydestination=https://id.gs1.org/417/0614141007776type=https://ref.gs1.org/cbv/SDT-possessing_partydestination=https://id.gs1.org/417/0614141007776sensorElementsensorMetadatatime=2019-04-02T13:05:00.000ZstartTime=2019-04-02T12:55:01.000ZendTime=2019-04-02T13:55:00.000ZdeviceID=https://id.gs1.org/8004/4000001111deviceMetadata=https://id.gs1.org/8004/4000001111rawData=https://id.gs1.org/8004/401234599999dataProcessingMethod=https://id.gs1.org/253/4012345000054987bizRules=https://id.gs1.org/253/4012345000054987sensorReporttype=https://ref.gs1.org/voc/TemperaturedeviceID=https://id.gs1.org/8004/4000001111deviceMetadata=https://id.gs1.org/8004/4000001111rawData=https://id.gs1.org/8004/401234599999dataProcessingMethod=https://id.gs1.org/253/4012345000054987time=2019-07-19T13:00:00.000Zmicroorganism=https://www.ncbi.nlm.nih.gov/taxonomy/1126011chemicalSubstance=https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-Nvalue=26component=example:xstringValue=SomeStringbooleanValue=truehexBinaryValue=f0f0f0uriValue=https://id.gs1.org/8004/4000001111minValue=26maxValue=26.2meanValue=13.2sDev=0.1percRank=50percValue=12.7uom=CELilmd{http://example.com/ext1/}array=12{http://example.com/ext1/}array=2013-06-08T14:58:56.591Z{http://example.com/ext1/}array=22{http://example.com/ext1/}array=stringInArray{http://example.com/ext1/}array=true{http://example.com/ext1/}array{http://example.com/ext1/}object{http://example.com/ext1/}object{http://example.com/ext2/}array=14{http://example.com/ext2/}array=23{http://example.com/ext2/}array=stringInArrayInObjectInArray{http://example.com/ext2/}int=13{http://example.com/ext2/}object{http://example.com/ext2/}object{http://example.com/ext3/}string=stringInObjectInObjectInArray{http://example.com/ext2/}string=stringInObjectInArray{http://example.com/ext1/}boolean=true{http://example.com/ext1/}default=stringAsDefaultValue{http://example.com/ext1/}float=20{http://example.com/ext1/}int=10{http://example.com/ext1/}object{http://example.com/ext2/}array=11{http://example.com/ext2/}array=21{http://example.com/ext2/}array=stringInArrayInObject{http://example.com/ext2/}object{http://example.com/ext2/}object{http://example.com/ext3/}string=stringInObjectInObject{http://example.com/ext2/}string=stringInObject{http://example.com/ext1/}string=string{http://example.com/ext1/}time=2013-06-08T14:58:56.591Z{urn:epcglobal:cbv:mda}countryOfExport=KR{urn:epcglobal:cbv:mda}countryOfOrigin=GB{urn:epcglobal:cbv:mda}drainedWeight=3.5{urn:epcglobal:cbv:mda}grossWeight=3.5{urn:epcglobal:cbv:mda}lotNumber=ABC123{urn:epcglobal:cbv:mda}netWeight=3.5sensorElementsensorMetadata{http://example.com/ext1/}someFurtherMetadata=someTextsensorReport{http://example.com/ext1/}someFurtherReportData=someText{http://example.com/ext1/}array=12{http://example.com/ext1/}array=2013-06-08T14:58:56.591Z{http://example.com/ext1/}array=22{http://example.com/ext1/}array=stringInArray{http://example.com/ext1/}array=true{http://example.com/ext1/}array{http://example.com/ext1/}object{http://example.com/ext1/}object{http://example.com/ext2/}array=14{http://example.com/ext2/}array=23{http://example.com/ext2/}array=stringInArrayInObjectInArray{http://example.com/ext2/}int=13{http://example.com/ext2/}object{http://example.com/ext2/}object{http://example.com/ext3/}string=stringInObjectInObjectInArray{http://example.com/ext2/}string=stringInObjectInArray{http://example.com/ext1/}boolean=true{http://example.com/ext1/}default=stringAsDefaultValue{http://example.com/ext1/}float=20{http://example.com/ext1/}int=10{http://example.com/ext1/}object{http://example.com/ext2/}array=11{http://example.com/ext2/}array=21{http://example.com/ext2/}array=stringInArrayInObject{http://example.com/ext2/}object{http://example.com/ext2/}object{http://example.com/ext3/}string=stringInObjectInObject{http://example.com/ext2/}string=stringInObject{http://example.com/ext1/}string=string{http://example.com/ext1/}time=2013-06-08T14:58:56.591Z{http://example.com/ext1/}array=12{http://example.com/ext1/}array=2013-06-08T14:58:56.591Z{http://example.com/ext1/}array=22{http://example.com/ext1/}array=stringInArray{http://example.com/ext1/}array=true{http://example.com/ext1/}array{http://example.com/ext1/}object{http://example.com/ext1/}object{http://example.com/ext2/}array=14{http://example.com/ext2/}array=23{http://example.com/ext2/}array=stringInArrayInObjectInArray{http://example.com/ext2/}int=13{http://example.com/ext2/}object{http://example.com/ext2/}object{http://example.com/ext3/}string=stringInObjectInObjectInArray{http://example.com/ext2/}string=stringInObjectInArray{http://example.com/ext1/}boolean=true{http://example.com/ext1/}default=stringAsDefaultValue{http://example.com/ext1/}float=20{http://example.com/ext1/}int=10{http://example.com/ext1/}object{http://example.com/ext2/}array=11{http://example.com/ext2/}array=21{http://example.com/ext2/}array=stringInArrayInObject{http://example.com/ext2/}object{http://example.com/ext2/}object{http://example.com/ext3/}string=stringInObjectInObject{http://example.com/ext2/}string=stringInObject{http://example.com/ext1/}string=string{http://example.com/ext1/}time=2013-06-08T14:58:56.591Z",
        hash: "ni:///sha-256;9811bfb2672e9c3a0f6151be339d22b60db375c8b23d2740f6137cc6539f0639?ver=CBV2.0",
    },
    Vector {
        // Sub-millisecond time rounded half to even (.1415 -> .142), Digital Link EPCs on
        // another host (id.gs1.de) re-hosted on id.gs1.org.
        source: "tests/examples/documents/TimeStampRoundOff.jsonld, event 1; \
                 tests/examples/expected/CBV2.0/TimeStampRoundOff.{prehashes,hashes} line 1",
        context: r#"["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]"#,
        event: r#"{"type": "ObjectEvent", "eventTime": "2023-02-02T11:04:03.1415Z",
            "eventTimeZoneOffset": "+01:00", "epcList": ["https://id.gs1.de/00/040123451111111110"],
            "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "readPoint": {"id": "https://id.gs1.de/414/4012345000115"}}"#,
        pre_hash: "eventType=ObjectEventeventTime=2023-02-02T11:04:03.142ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/00/040123451111111110action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shippingdisposition=https://ref.gs1.org/cbv/Disp-in_transitreadPointid=https://id.gs1.org/414/4012345000115",
        hash: "ni:///sha-256;af7658e711574363633f20b3dadc7bc4c13c6f612cf96d95e03c421c0e58f3c6?ver=CBV2.0",
    },
    Vector {
        // Sensor report exception and coordinate reference system; certificationInfo left out.
        source: "tests/examples/documents/TimeStampRoundOff.jsonld, event 3; \
                 tests/examples/expected/CBV2.0/TimeStampRoundOff.{prehashes,hashes} line 3",
        context: r#"["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]"#,
        event: r#"{"type": "ObjectEvent", "eventTime": "2023-02-12T11:04:03.1415Z",
            "eventTimeZoneOffset": "+01:00",
            "certificationInfo": "https://accreditation-council.example.org/certificate/ABC12345",
            "epcList": ["https://id.gs1.de/01/04012345999990/21/XYZ-1234"],
            "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress",
            "readPoint": {"id": "https://id.gs1.de/414/4012345000115"},
            "sensorElementList": [{
                "sensorMetadata": {"time": "2023-02-12T11:04:03.1007Z",
                                   "bizRules": "https://id.example.com/253/4012345000054987"},
                "sensorReport": [{"type": "Dimensionless", "exception": "ALARM_CONDITION",
                    "coordinateReferenceSystem": "http://www.opengis.net/def/crs/EPSG/0/27700"}]}]}"#,
        pre_hash: "eventType=ObjectEventeventTime=2023-02-12T11:04:03.142ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/01/04012345999990/21/XYZ-1234action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-receivingdisposition=https://ref.gs1.org/cbv/Disp-in_progressreadPointid=https://id.gs1.org/414/4012345000115sensorElementsensorMetadatatime=2023-02-12T11:04:03.101ZbizRules=https://id.gs1.org/253/4012345000054987sensorReporttype=https://ref.gs1.org/voc/Dimensionlessexception=https://ref.gs1.org/voc/ALARM_CONDITIONcoordinateReferenceSystem=http://www.opengis.net/def/crs/EPSG/0/27700",
        hash: "ni:///sha-256;bf052637920f56c28bd6bc4ce10bb296203fcddc543f1e293d5a77b07592dcec?ver=CBV2.0",
    },
];

/// First byte where two strings differ, with some context, for a readable failure.
fn diff(got: &str, want: &str) -> String {
    let at = got
        .bytes()
        .zip(want.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(40);
    format!(
        "first difference at byte {at}\n  got:  ...{}\n  want: ...{}",
        got.get(from..(at + 80).min(got.len())).unwrap_or(""),
        want.get(from..(at + 80).min(want.len())).unwrap_or("")
    )
}

#[test]
fn event_hash_published_pairs_are_consistent() {
    // The published pairs are consistent: SHA-256 of the pre-hash is the hash ID.
    for v in VECTORS {
        assert_eq!(hash_id_of_pre_hash(v.pre_hash), v.hash, "{}", v.source);
        assert!(parse_hash_id(v.hash).is_some(), "{}", v.source);
    }
}

#[test]
fn event_hash_published_vectors() {
    let mut failures = Vec::new();
    for v in VECTORS {
        let event: Value = serde_json::from_str(v.event).expect("vector event is JSON");
        let context: Value = serde_json::from_str(v.context).expect("vector context is JSON");
        let got = pre_hash_with_context(&event, Some(&context));
        match got {
            Ok(p) if p == v.pre_hash => {
                assert_eq!(
                    event_hash_id_with_context(&event, Some(&context)).as_deref(),
                    Ok(v.hash)
                );
            }
            Ok(p) => failures.push(format!("{}\n{}", v.source, diff(&p, v.pre_hash))),
            Err(e) => failures.push(format!("{}\nerror: {e}", v.source)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors fail:\n{}",
        failures.len(),
        VECTORS.len(),
        failures.join("\n\n")
    );
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/epcis/examples")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json" || x == "jsonld") {
            out.push(p);
        }
    }
}

fn events_of(doc: &Value) -> Vec<&Value> {
    let body = &doc["epcisBody"];
    let list = body["eventList"]
        .as_array()
        .or_else(|| body["queryResults"]["resultsBody"]["eventList"].as_array());
    list.map(|l| l.iter().collect()).unwrap_or_default()
}

#[test]
fn event_hash_local_gs1_examples_hash_or_name_what_is_unsupported() {
    let dir = examples_dir();
    assert!(dir.is_dir(), "{} does not resolve", dir.display());
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    assert!(!files.is_empty());
    let (mut ok, mut unsupported, mut id_matches) = (0, 0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable example");
        let doc: Value = match serde_json::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{}: not JSON ({e}), skipped", f.display());
                continue;
            }
        };
        for event in events_of(&doc) {
            match event_hash_id_with_context(event, doc.get("@context")) {
                Ok(id) => {
                    ok += 1;
                    assert!(parse_hash_id(&id).is_some());
                    if event["eventID"].as_str() == Some(id.as_str()) {
                        id_matches += 1;
                    }
                }
                Err(e) => {
                    // Every refusal names what is unsupported.
                    unsupported += 1;
                    assert!(!e.to_string().is_empty());
                    assert!(!matches!(e, HashError::NotAnObject), "{}", f.display());
                    eprintln!("{}: {e}", f.display());
                }
            }
        }
    }
    eprintln!(
        "{} files: {ok} events hashed ({id_matches} equal their ni:/// eventID), {unsupported} refused",
        files.len()
    );
    assert!(ok > 0);
}
