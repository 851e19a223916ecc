//! Numbers written into text without `format!`: the verify answer writes a few on every
//! check (`RateLimit` fields, times, periods), and going through `core::fmt` for each
//! cost more than the rest of building the answer.

/// The two digits of every number below 100, for writing two at a time.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Appends `n` in decimal, as `n.to_string()` writes it.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        buf[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        buf[at] = b'0' + n as u8;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// Writes `n` in decimal into all of `dst`, padded with zeros on the left (its high
/// digits dropped if it has more than `dst` holds).
pub fn put_padded(dst: &mut [u8], mut n: u32) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decimals_read_as_to_string_writes_them(n in any::<u64>(), small in 0u64..1_000) {
            for n in [n, small] {
                let mut out = String::from("x");
                push_u64(&mut out, n);
                prop_assert_eq!(out, format!("x{n}"));
            }
        }

        #[test]
        fn padded_decimals_read_as_format_pads_them(n in 0u32..10_000) {
            let mut buf = [0u8; 4];
            put_padded(&mut buf, n);
            prop_assert_eq!(std::str::from_utf8(&buf).unwrap(), format!("{n:04}"));
        }
    }

    #[test]
    fn the_edges() {
        let mut out = String::new();
        for n in [0, 9, 10, 99, 100, 101, u64::MAX] {
            push_u64(&mut out, n);
            out.push(' ');
        }
        assert_eq!(out, "0 9 10 99 100 101 18446744073709551615 ");
    }
}
