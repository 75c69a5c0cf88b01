use super::*;
use contiv_core::datapath::MacAddr;
use contiv_core::records::EndpointRecord;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn ep(id: &str, tenant: &str, group: &str, name: &str, ip: Ipv4Addr) -> EndpointRecord {
    EndpointRecord {
        id: id.to_owned(),
        tenant: tenant.to_owned(),
        network: "net".to_owned(),
        group: group.to_owned(),
        epg_id: 0,
        ipv4: Some(ip),
        ipv4_prefix: 16,
        ipv6: None,
        ipv6_prefix: 0,
        mac: MacAddr::from_ipv4(ip),
        host: "h".to_owned(),
        intf_name: String::new(),
        container_id: String::new(),
        container_name: name.to_owned(),
        labels: Default::default(),
        published: Vec::new(),
    }
}

fn tables() -> NameTables {
    let eps: Vec<_> = (1..=30u8)
        .map(|i| {
            ep(
                &format!("e{i}"),
                "t",
                "big",
                &format!("c{i}"),
                Ipv4Addr::new(10, 0, 0, i),
            )
        })
        .collect();
    NameTables::from_records(&eps, [], [])
}

fn reply_of(action: Action) -> Message {
    match action {
        Action::Reply(b) => Message::from_vec(&b).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn answer_has_ttl_aa_ra_and_echoes_id_question_and_case() {
    let t = tables();
    let q = build_query(0x1234, "C7.", RecordType::A).unwrap();
    let r = reply_of(answer_locally(&t, "t", "net", &q, Transport::Udp));
    assert_eq!(r.metadata.id, 0x1234);
    assert_eq!(r.metadata.message_type, MessageType::Response);
    assert!(r.metadata.authoritative);
    assert!(r.metadata.recursion_available);
    assert!(r.metadata.recursion_desired, "RD is copied from the query");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(r.queries.len(), 1);
    assert_eq!(r.answers.len(), 1);
    let rec = &r.answers[0];
    assert_eq!(rec.ttl, DNS_TTL);
    assert_eq!(rec.name.to_ascii(), "C7.", "owner name as asked");
    assert_eq!(rec.data, RData::A(A(Ipv4Addr::new(10, 0, 0, 7))));
}

#[test]
fn unknown_names_and_other_tenants_are_forwarded() {
    let t = tables();
    let q = build_query(1, "example.org.", RecordType::A).unwrap();
    assert!(matches!(
        answer_locally(&t, "t", "net", &q, Transport::Udp),
        Action::Forward(_)
    ));
    let q = build_query(1, "c7.", RecordType::A).unwrap();
    match answer_locally(&t, "other", "net", &q, Transport::Udp) {
        Action::Forward(f) => {
            assert_eq!(f.limit, CLASSIC_UDP_LIMIT);
            assert_eq!(f.query.metadata.id, 1);
        }
        other => panic!("another tenant's name must not be answered: {other:?}"),
    }
}

#[test]
fn known_name_without_records_is_nodata() {
    let t = tables();
    let q = build_query(9, "c7.", RecordType::MX).unwrap();
    let r = reply_of(answer_locally(&t, "t", "net", &q, Transport::Udp));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(r.metadata.authoritative);
    assert!(r.answers.is_empty());
}

#[test]
fn group_answer_is_capped_at_ten() {
    let t = tables();
    let q = build_query(2, "big.", RecordType::A).unwrap();
    let r = reply_of(answer_locally(&t, "t", "net", &q, Transport::Udp));
    assert_eq!(r.answers.len(), 10);
}

#[test]
fn responses_and_garbage_are_dropped() {
    let t = tables();
    let mut q = build_query(3, "c1.", RecordType::A).unwrap();
    q[2] |= 0x80; // QR: this is a response
    assert!(matches!(
        answer_locally(&t, "t", "net", &q, Transport::Udp),
        Action::Drop
    ));
    assert!(matches!(
        answer_locally(&t, "t", "net", &[1, 2, 3], Transport::Udp),
        Action::Drop
    ));
    let mut cut = build_query(3, "c1.", RecordType::A).unwrap();
    cut.truncate(cut.len() - 3);
    assert!(matches!(
        answer_locally(&t, "t", "net", &cut, Transport::Udp),
        Action::Drop
    ));
}

#[test]
fn bad_opcode_gets_notimp_and_bad_counts_formerr() {
    let t = tables();
    let mut q = build_query(0xbeef, "c1.", RecordType::A).unwrap();
    q[2] = (q[2] & !0x78) | (4 << 3); // NOTIFY
    let Action::Reply(r) = answer_locally(&t, "t", "net", &q, Transport::Udp) else {
        panic!("expected NOTIMP");
    };
    assert_eq!(r.len(), 12);
    assert_eq!(&r[..2], &[0xbe, 0xef]);
    assert_eq!(r[2] & 0x80, 0x80, "QR set");
    assert_eq!((r[2] >> 3) & 0x0f, 4, "opcode echoed");
    assert_eq!(r[3] & 0x0f, ResponseCode::NotImp.low());

    let mut q = build_query(7, "c1.", RecordType::A).unwrap();
    q[5] = 2; // two questions announced
    let Action::Reply(r) = answer_locally(&t, "t", "net", &q, Transport::Udp) else {
        panic!("expected FORMERR");
    };
    assert_eq!(r[3] & 0x0f, ResponseCode::FormErr.low());
    // 65535 announced questions: answered from the header alone.
    q[4] = 0xff;
    q[5] = 0xff;
    assert!(
        matches!(answer_locally(&t, "t", "net", &q, Transport::Udp), Action::Reply(r) if r.len() == 12)
    );
}

#[test]
fn non_in_class_is_forwarded() {
    let t = tables();
    let mut q = build_query(5, "c1.", RecordType::TXT).unwrap();
    let n = q.len();
    q[n - 1] = 3; // class CH
    assert!(matches!(
        answer_locally(&t, "t", "net", &q, Transport::Udp),
        Action::Forward(_)
    ));
}

#[test]
fn oversized_udp_answers_are_truncated_with_tc() {
    let name = format!("{}.{}.", "x".repeat(60), "y".repeat(60));
    let mut msg = Message::new(1, MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(
        Name::from_ascii(&name).unwrap(),
        RecordType::A,
    ));
    let mut resp = response_to(&msg, ResponseCode::NoError);
    for i in 0..40u8 {
        // Distinct owner names defeat name compression.
        let owner = Name::from_ascii(format!("n{i}-{}.", "z".repeat(50))).unwrap();
        resp.add_answer(Record::from_rdata(
            owner,
            1,
            RData::A(A(Ipv4Addr::new(10, 0, 0, i))),
        ));
    }
    let full = encode(&resp, MAX_TCP_MESSAGE).unwrap();
    assert!(full.len() > CLASSIC_UDP_LIMIT);
    let cut = encode(&resp, CLASSIC_UDP_LIMIT).unwrap();
    assert!(cut.len() <= CLASSIC_UDP_LIMIT);
    let parsed = Message::from_vec(&cut).unwrap();
    assert!(parsed.metadata.truncation);
    assert!(parsed.answers.is_empty());
    assert_eq!(parsed.queries.len(), 1);
}

#[test]
fn edns_raises_the_udp_limit_up_to_our_maximum() {
    let mut msg = Message::new(1, MessageType::Query, OpCode::Query);
    assert_eq!(response_limit(&msg, Transport::Udp), CLASSIC_UDP_LIMIT);
    assert_eq!(response_limit(&msg, Transport::Tcp), MAX_TCP_MESSAGE);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    msg.set_edns(edns.clone());
    assert_eq!(
        response_limit(&msg, Transport::Udp),
        usize::from(MAX_UDP_PAYLOAD)
    );
    edns.set_max_payload(100);
    msg.set_edns(edns);
    assert_eq!(response_limit(&msg, Transport::Udp), CLASSIC_UDP_LIMIT);
}

#[test]
fn relay_restores_the_id_and_truncates_what_does_not_fit() {
    let query =
        Message::from_vec(&build_query(0x4242, "ext.example.", RecordType::TXT).unwrap()).unwrap();
    let mut upstream = Message::response(0x9999, OpCode::Query);
    upstream.add_queries(query.queries.clone());
    let bytes = upstream.to_vec().unwrap();
    let out = relay(bytes.clone(), &query, CLASSIC_UDP_LIMIT).unwrap();
    assert_eq!(Message::from_vec(&out).unwrap().metadata.id, 0x4242);
    assert_eq!(&out[2..], &bytes[2..], "otherwise untouched");
    let mut big = bytes;
    big.resize(700, 0);
    let out = relay(big, &query, CLASSIC_UDP_LIMIT).unwrap();
    let m = Message::from_vec(&out).unwrap();
    assert!(m.metadata.truncation);
    assert_eq!(m.metadata.id, 0x4242);
    assert!(relay(vec![0; 5], &query, 512).is_none());
}

#[test]
fn error_reply_carries_the_rcode() {
    let query = Message::from_vec(&build_query(77, "nope.", RecordType::A).unwrap()).unwrap();
    let r = Message::from_vec(&error_reply(&query, ResponseCode::ServFail, 512).unwrap()).unwrap();
    assert_eq!(r.metadata.id, 77);
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    assert!(!r.metadata.authoritative);
}

proptest! {
    /// Arbitrary bytes never panic the parser path, and whatever comes back
    /// is a well-formed response to the same id.
    #[test]
    fn arbitrary_packets_never_panic(packet in proptest::collection::vec(any::<u8>(), 0..600)) {
        let t = tables();
        if let Action::Reply(r) = answer_locally(&t, "t", "net", &packet, Transport::Udp) {
            prop_assert!(r.len() <= CLASSIC_UDP_LIMIT);
            prop_assert_eq!(&r[..2], &packet[..2]);
            prop_assert!(r[2] & 0x80 != 0);
        }
    }

    /// Valid queries with random names, types and header bits, then one
    /// byte flipped: no panic either.
    #[test]
    fn mutated_queries_never_panic(
        label in "[a-zA-Z0-9]([a-zA-Z0-9-]{0,18}[a-zA-Z0-9])?",
        rtype in prop::sample::select(vec![
            RecordType::A, RecordType::AAAA, RecordType::ANY, RecordType::MX,
            RecordType::TXT, RecordType::SRV, RecordType::PTR, RecordType::NS,
        ]),
        flip_at in any::<prop::sample::Index>(),
        flip in any::<u8>(),
    ) {
        let t = tables();
        let mut q = build_query(3, &format!("{label}."), rtype).unwrap();
        let i = flip_at.index(q.len());
        q[i] ^= flip;
        let _ = answer_locally(&t, "t", "net", &q, Transport::Udp);
        let _ = answer_locally(&t, "t", "net", &q, Transport::Tcp);
    }
}

proptest! {
    /// A plausible header (one question, at most two additional records)
    /// followed by arbitrary bytes: this reaches deep into the message
    /// parser. No panic, and any reply is a response with the same id.
    #[test]
    fn plausible_header_with_arbitrary_body_never_panics(
        id in any::<u16>(),
        flags in any::<u8>(),
        additional in 0u8..=2,
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let t = tables();
        let mut packet = vec![0u8; 12];
        packet[..2].copy_from_slice(&id.to_be_bytes());
        packet[2] = flags & 0x7f;
        packet[5] = 1;
        packet[11] = additional;
        packet.extend_from_slice(&body);
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Action::Reply(r) = answer_locally(&t, "t", "net", &packet, transport) {
                prop_assert_eq!(&r[..2], &id.to_be_bytes());
                prop_assert!(r[2] & 0x80 != 0);
            }
        }
    }
}
