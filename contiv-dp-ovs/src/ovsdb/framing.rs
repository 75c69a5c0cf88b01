//! Splitting the OVSDB byte stream into JSON texts.
//!
//! JSON-RPC over a stream socket has no delimiters: messages are JSON
//! objects back to back. [`JsonSplitter`] finds where each top-level object
//! or array ends by tracking nesting depth outside strings, in one pass over
//! the bytes (state is kept across reads, so large messages arriving in
//! many pieces cost O(n)).

use super::OvsdbError;

/// Finds complete top-level JSON objects/arrays in a byte stream.
#[derive(Debug, Default)]
pub struct JsonSplitter {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned.
    scanned: usize,
    /// Start of the current value in `buf`, if one began.
    start: Option<usize>,
    depth: usize,
    in_string: bool,
    escape: bool,
}

/// Largest single message accepted (a guard against a peer that never
/// closes a value).
const MAX_MESSAGE: usize = 256 << 20;

impl JsonSplitter {
    /// An empty splitter.
    pub fn new() -> JsonSplitter {
        JsonSplitter::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete JSON text, if one is buffered. Errors on bytes
    /// that cannot start a JSON object/array or on an oversized message.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, OvsdbError> {
        while self.scanned < self.buf.len() {
            let b = self.buf[self.scanned];
            let i = self.scanned;
            self.scanned += 1;
            if self.start.is_none() {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'{' | b'[' => {
                        self.start = Some(i);
                        self.depth = 1;
                        continue;
                    }
                    _ => {
                        return Err(OvsdbError::Protocol(format!(
                            "unexpected byte {b:#04x} between JSON-RPC messages"
                        )));
                    }
                }
            }
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let start = self.start.take().unwrap_or(0);
                        let msg = self.buf[start..self.scanned].to_vec();
                        self.buf.drain(..self.scanned);
                        self.scanned = 0;
                        return Ok(Some(msg));
                    }
                }
                _ => {}
            }
        }
        if self.start.is_none() {
            // Only whitespace buffered.
            self.buf.clear();
            self.scanned = 0;
        } else if self.buf.len() > MAX_MESSAGE {
            return Err(OvsdbError::Protocol(format!(
                "JSON-RPC message larger than {MAX_MESSAGE} bytes"
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_back_to_back_messages_across_arbitrary_chunks() {
        let stream = br#"{"id":1,"result":["a}b\"]"]} {"method":"echo","params":[],"id":"x"}
[1,[2,{}]]"#;
        let want: Vec<&[u8]> = vec![
            br#"{"id":1,"result":["a}b\"]"]}"#,
            br#"{"method":"echo","params":[],"id":"x"}"#,
            b"[1,[2,{}]]",
        ];
        for chunk in 1..stream.len() {
            let mut s = JsonSplitter::new();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                s.push(c);
                while let Some(m) = s.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, want, "chunk size {chunk}");
        }
    }

    #[test]
    fn garbage_between_messages_is_an_error() {
        let mut s = JsonSplitter::new();
        s.push(b"{} x");
        assert!(s.next_message().unwrap().is_some());
        assert!(s.next_message().is_err());
    }
}
