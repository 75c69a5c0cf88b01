//! Decoders of every state type fed arbitrary and mutated bytes: they must
//! return an error or a state that re-encodes to something that decodes to
//! the same state — never panic, never allocate without bound.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use contiv_ipam::{
    AllocState, IdPool, IdRanges, Ipv4Pool, Ipv4Range, Ipv4Spec, Ipv6Pool, Resource, VxlanPool,
};
use proptest::prelude::*;

fn check<S: AllocState + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(state) = S::decode(bytes) {
        let again = S::decode(&state.encode());
        prop_assert_eq!(again.as_ref(), Ok(&state));
    }
    Ok(())
}

fn samples() -> Vec<Vec<u8>> {
    let spec = Ipv4Spec::parse("10.1.0.0/16").unwrap();
    let mut v4 = Ipv4Pool::new(spec, Some("10.1.1.254".parse().unwrap())).unwrap();
    for _ in 0..100 {
        v4.allocate().unwrap();
    }
    v4.release("10.1.0.7".parse().unwrap()).unwrap();
    v4.reserve_group_pool(Ipv4Range::parse("10.1.2.1-10.1.2.50").unwrap())
        .unwrap();
    let group =
        Ipv4Pool::new_group(&spec, Ipv4Range::parse("10.1.2.1-10.1.2.50").unwrap()).unwrap();
    let mut v6 = Ipv6Pool::new(
        "2001::/64".parse().unwrap(),
        Some("2001::fe".parse().unwrap()),
    )
    .unwrap();
    for _ in 0..10 {
        v6.allocate().unwrap();
    }
    let mut ids = IdPool::new(
        Resource::Vlan,
        IdRanges::parse(Resource::Vlan, "1-100, 200-300").unwrap(),
    )
    .unwrap();
    ids.allocate_requested(250).unwrap();
    ids.allocate().unwrap();
    let mut vx = VxlanPool::new(IdRanges::parse(Resource::Vxlan, "1-10000").unwrap()).unwrap();
    vx.allocate(Some(5000)).unwrap();
    vx.allocate(None).unwrap();
    vec![
        v4.encode(),
        group.encode(),
        v6.encode(),
        ids.encode(),
        vx.encode(),
    ]
}

fn decode_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    check::<Ipv4Pool>(bytes)?;
    check::<Ipv6Pool>(bytes)?;
    check::<IdPool>(bytes)?;
    check::<VxlanPool>(bytes)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        decode_all(&bytes)?;
    }

    /// Valid header, random body.
    #[test]
    fn random_bodies_never_panic(tag in 1u8..=4, body in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut bytes = vec![1, tag];
        bytes.extend(body);
        decode_all(&bytes)?;
    }

    /// Valid encodings with bytes flipped, truncated or extended.
    #[test]
    fn mutated_encodings_never_panic(
        which in 0usize..5,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<Option<usize>>(),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut bytes = samples()[which].clone();
        for (pos, val) in flips {
            let i = pos % bytes.len();
            bytes[i] ^= val;
        }
        if let Some(c) = cut {
            bytes.truncate(c % (bytes.len() + 1));
        }
        bytes.extend(extra);
        decode_all(&bytes)?;
    }
}

#[test]
fn samples_decode_and_trailing_bytes_are_refused() {
    let s = samples();
    assert!(Ipv4Pool::decode(&s[0]).is_ok());
    assert!(Ipv4Pool::decode(&s[1]).unwrap().is_group());
    assert!(Ipv6Pool::decode(&s[2]).is_ok());
    assert!(IdPool::decode(&s[3]).is_ok());
    assert!(VxlanPool::decode(&s[4]).is_ok());
    for bytes in &s {
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Ipv4Pool::decode(&longer).is_err());
        assert!(Ipv6Pool::decode(&longer).is_err());
        assert!(IdPool::decode(&longer).is_err());
        assert!(VxlanPool::decode(&longer).is_err());
    }
    // The wrong type is named.
    let e = Ipv4Pool::decode(&s[3]).unwrap_err();
    assert!(
        e.0.contains("expected ipv4 allocator state, found id"),
        "{e}"
    );
}
