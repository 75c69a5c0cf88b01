//! Parsing queries and building answers: pure functions, no I/O.
//!
//! [`answer_locally`] takes one received packet and decides: reply from the
//! tables, forward upstream, or drop. Packets that are not queries (the QR
//! bit set) or do not parse are dropped without a reply. A query with a
//! non-zero opcode gets NOTIMP; one that does not carry exactly one question
//! (or carries answer/authority records) gets FORMERR — both decided from
//! the fixed 12-byte header before the rest is parsed, so a hostile header
//! cannot make the parser reserve room for thousands of records.

use super::DNS_TTL;
use super::names::{Lookup, NameTables, QueryKind};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::IpAddr;

/// Largest UDP payload the server accepts from a client's EDNS option and
/// advertises in its own.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// UDP payload limit of a client without EDNS (RFC 1035).
pub const CLASSIC_UDP_LIMIT: usize = 512;

/// Largest DNS message over TCP (two-byte length prefix).
pub const MAX_TCP_MESSAGE: usize = u16::MAX as usize;

/// How a query reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: answers larger than the client's limit are truncated (TC).
    Udp,
    /// TCP: answers up to 64 KiB.
    Tcp,
}

/// A query the tables do not answer, to be forwarded upstream.
#[derive(Clone, Debug)]
pub struct ForwardRequest {
    /// The parsed query (for the question and the header flags).
    pub query: Message,
    /// Largest response the client accepts on this transport.
    pub limit: usize,
}

/// What to do with a received packet.
#[derive(Clone, Debug)]
pub enum Action {
    /// Send these bytes back to the client.
    Reply(Vec<u8>),
    /// Unknown here: forward the packet upstream.
    Forward(Box<ForwardRequest>),
    /// Drop the packet silently.
    Drop,
}

/// The largest response the client of `query` accepts over `transport`.
pub fn response_limit(query: &Message, transport: Transport) -> usize {
    match transport {
        Transport::Tcp => MAX_TCP_MESSAGE,
        Transport::Udp => query.edns.as_ref().map_or(CLASSIC_UDP_LIMIT, |e| {
            usize::from(e.max_payload().min(MAX_UDP_PAYLOAD)).max(CLASSIC_UDP_LIMIT)
        }),
    }
}

/// Decides what to do with `packet`, received on the DNS endpoint of
/// `network` in `tenant`, answering from `names` when they know the name.
pub fn answer_locally(
    names: &NameTables,
    tenant: &str,
    network: &str,
    packet: &[u8],
    transport: Transport,
) -> Action {
    let query = match parse_query(packet) {
        Ok(q) => q,
        Err(Some(reply)) => return Action::Reply(reply),
        Err(None) => return Action::Drop,
    };
    let limit = response_limit(&query, transport);
    let Some(question) = query.queries.first() else {
        return Action::Drop;
    };
    if question.query_class() != DNSClass::IN {
        return Action::Forward(Box::new(ForwardRequest { query, limit }));
    }
    let Some(name) = name_text(question.name()) else {
        return Action::Forward(Box::new(ForwardRequest { query, limit }));
    };
    let kind = match question.query_type() {
        RecordType::A => QueryKind::A,
        RecordType::AAAA => QueryKind::Aaaa,
        RecordType::ANY => QueryKind::Any,
        _ => QueryKind::Other,
    };
    let addrs = match names.resolve(tenant, network, &name, kind) {
        Lookup::Unknown => return Action::Forward(Box::new(ForwardRequest { query, limit })),
        Lookup::NoData => Vec::new(),
        Lookup::Found(addrs) => addrs,
    };
    let mut resp = response_to(&query, ResponseCode::NoError);
    resp.metadata.authoritative = true;
    for ip in addrs {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        resp.add_answer(Record::from_rdata(question.name().clone(), DNS_TTL, data));
    }
    encode(&resp, limit).map_or(Action::Drop, Action::Reply)
}

/// Parses a query. `Err(Some(reply))`: answer with that error reply;
/// `Err(None)`: drop.
fn parse_query(packet: &[u8]) -> Result<Message, Option<Vec<u8>>> {
    let Some(header) = packet.get(..12) else {
        return Err(None);
    };
    if header[2] & 0x80 != 0 {
        return Err(None); // a response: never answer one
    }
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let opcode = (header[2] >> 3) & 0x0f;
    if opcode != 0 {
        return Err(Some(header_only_reply(header, ResponseCode::NotImp)));
    }
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || count(10) > 2 {
        return Err(Some(header_only_reply(header, ResponseCode::FormErr)));
    }
    let msg = Message::from_vec(packet).map_err(|_| None)?;
    if msg.metadata.message_type != MessageType::Query || msg.queries.len() != 1 {
        return Err(None);
    }
    Ok(msg)
}

/// A 12-byte reply to a query whose header is all we looked at.
fn header_only_reply(header: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out[..2].copy_from_slice(&header[..2]);
    // QR, the request's opcode and RD; RA; the rcode.
    out[2] = 0x80 | (header[2] & 0x79);
    out[3] = 0x80 | (rcode.low() & 0x0f);
    out
}

/// The question name as text, or `None` if a label is not UTF-8 or holds
/// a dot (such a name cannot be in the tables).
fn name_text(name: &Name) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        let label = std::str::from_utf8(label).ok()?;
        if label.contains('.') {
            return None;
        }
        if i > 0 {
            out.push('.');
        }
        out.push_str(label);
    }
    Some(out)
}

/// An empty response to `query` with its id, question and RD flag, RA set.
fn response_to(query: &Message, rcode: ResponseCode) -> Message {
    let mut resp = Message::response(query.metadata.id, OpCode::Query);
    resp.metadata.recursion_desired = query.metadata.recursion_desired;
    resp.metadata.checking_disabled = query.metadata.checking_disabled;
    resp.metadata.recursion_available = true;
    resp.metadata.response_code = rcode;
    resp.add_queries(query.queries.iter().cloned());
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        resp.set_edns(edns);
    }
    resp
}

/// Encodes `msg`; if it is longer than `limit`, encodes it truncated
/// instead (header, question, TC). `None` if it cannot be encoded.
pub fn encode(msg: &Message, limit: usize) -> Option<Vec<u8>> {
    let bytes = msg.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    msg.truncate().to_vec().ok()
}

/// An error reply (e.g. SERVFAIL when forwarding failed, NXDOMAIN when no
/// upstream is configured) to a query.
pub fn error_reply(query: &Message, rcode: ResponseCode, limit: usize) -> Option<Vec<u8>> {
    encode(&response_to(query, rcode), limit)
}

/// Prepares an upstream response for the client: restores the client's
/// message id; if it is longer than `limit`, replaces it with a truncated
/// reply (TC) so the client retries over TCP.
pub fn relay(mut upstream: Vec<u8>, query: &Message, limit: usize) -> Option<Vec<u8>> {
    if upstream.len() < 12 {
        return None;
    }
    upstream[..2].copy_from_slice(&query.metadata.id.to_be_bytes());
    if upstream.len() <= limit {
        return Some(upstream);
    }
    let mut tc = response_to(query, ResponseCode::NoError);
    tc.metadata.truncation = true;
    tc.to_vec().ok()
}

/// Builds a query message for `name` (a helper for clients and tests).
pub fn build_query(id: u16, name: &str, rtype: RecordType) -> Option<Vec<u8>> {
    let name = Name::from_ascii(name).ok()?;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name, rtype));
    msg.to_vec().ok()
}

#[cfg(test)]
mod tests;
