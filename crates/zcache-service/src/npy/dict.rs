//! A parser for the small Python dict literal in a `.npy` header.
//!
//! Only what the format allows: string keys, and values that are strings, `True`/`False` or
//! tuples of non-negative integers. Anything else is an error (never a panic).

/// The three fields every `.npy` header must carry.
pub(crate) struct HeaderDict {
    pub(crate) descr: String,
    pub(crate) fortran_order: bool,
    pub(crate) shape: Vec<usize>,
}

enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(got) if got == c => {
                self.pos += 1;
                Ok(())
            }
            Some(got) => Err(format!(
                "expected {:?} at byte {}, found {:?}",
                c as char, self.pos, got as char
            )),
            None => Err(format!("expected {:?}, found the end", c as char)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.pos)),
        };
        self.pos += 1;
        let start = self.pos;
        while let Some(&c) = self.s.get(self.pos) {
            if c == b'\\' {
                return Err("escapes in header strings are not supported".into());
            }
            if c == quote {
                let text = std::str::from_utf8(self.s.get(start..self.pos).unwrap_or_default())
                    .map_err(|_| "string is not UTF-8".to_owned())?
                    .to_owned();
                self.pos += 1;
                return Ok(text);
            }
            self.pos += 1;
        }
        Err("unterminated string".into())
    }

    fn integer(&mut self) -> Result<usize, String> {
        self.skip_ws();
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        // Python 2 era writers appended `L` to long integers.
        let digits = std::str::from_utf8(self.s.get(start..self.pos).unwrap_or_default())
            .unwrap_or_default();
        if self.s.get(self.pos) == Some(&b'L') {
            self.pos += 1;
        }
        if digits.is_empty() {
            return Err(format!("expected a non-negative integer at byte {start}"));
        }
        digits
            .parse()
            .map_err(|_| format!("integer {digits} is too large"))
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(b')') {
                        self.pos += 1;
                        return Ok(Value::Tuple(items));
                    }
                    items.push(self.integer()?);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {}
                        _ => {
                            return Err(format!(
                                "expected ',' or ')' in the shape at byte {}",
                                self.pos
                            ));
                        }
                    }
                }
            }
            Some(_) => {
                let rest = self.s.get(self.pos..).unwrap_or_default();
                if rest.starts_with(b"True") {
                    self.pos += 4;
                    Ok(Value::Bool(true))
                } else if rest.starts_with(b"False") {
                    self.pos += 5;
                    Ok(Value::Bool(false))
                } else {
                    Err(format!("unexpected value at byte {}", self.pos))
                }
            }
            None => Err("expected a value, found the end".into()),
        }
    }
}

/// Parses the header text (trailing spaces and newline allowed).
pub(crate) fn parse(text: &str) -> Result<HeaderDict, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if p.peek() == Some(b'}') {
            p.pos += 1;
            break;
        }
        let key = p.string()?;
        p.expect(b':')?;
        let value = p.value()?;
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("fortran_order", Value::Bool(b)) => fortran = Some(b),
            ("shape", Value::Tuple(t)) => shape = Some(t),
            ("descr" | "fortran_order" | "shape", _) => {
                return Err(format!("key {key:?} has a value of the wrong kind"));
            }
            _ => return Err(format!("unexpected key {key:?}")),
        }
        match p.peek() {
            Some(b',') => p.pos += 1,
            Some(b'}') => {}
            _ => return Err(format!("expected ',' or '}}' at byte {}", p.pos)),
        }
    }
    if p.peek().is_some() {
        return Err(format!("unexpected text after the dict at byte {}", p.pos));
    }
    Ok(HeaderDict {
        descr: descr.ok_or("missing key 'descr'")?,
        fortran_order: fortran.ok_or("missing key 'fortran_order'")?,
        shape: shape.ok_or("missing key 'shape'")?,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_numpy_headers() {
        let h =
            parse("{'descr': '<f4', 'fortran_order': False, 'shape': (5000, 384), }          \n")
                .expect("valid");
        assert_eq!(
            (h.descr.as_str(), h.fortran_order, h.shape),
            ("<f4", false, vec![5000, 384])
        );
        let h = parse("{'descr':'<f8','fortran_order':True,'shape':(7,)}").expect("valid");
        assert_eq!(
            (h.descr.as_str(), h.fortran_order, h.shape),
            ("<f8", true, vec![7])
        );
        let h = parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L)}")
            .expect("python 2 longs");
        assert_eq!(h.shape, vec![3, 2]);
        assert_eq!(
            parse("{'descr': '<f4', 'fortran_order': False, 'shape': ()}")
                .expect("scalar")
                .shape,
            Vec::<usize>::new()
        );
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            "",
            "{",
            "{'descr': '<f4'}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 2)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)} trailing",
            "{'descr': '<f\\4', 'fortran_order': False, 'shape': (3, 2)}",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
