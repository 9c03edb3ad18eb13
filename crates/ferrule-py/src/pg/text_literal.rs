//! Parsers for the text forms of arrays (`{1,"a b",NULL,{2,3}}`) and composites
//! (`(1,"a ""b""",)`), for values whose type tree has a type without a binary codec.

/// An array literal's structure: elements are still text.
#[derive(Debug, PartialEq)]
pub enum Node {
    Null,
    Item(String),
    List(Vec<Node>),
}

/// Parses an array literal, with or without a dimension prefix (`[0:1]={...}`).
pub fn parse_array(s: &str) -> Result<Node, &'static str> {
    let s = s.trim();
    let body = if s.starts_with('[') {
        let eq = s.find('=').ok_or("dimension prefix without '='")?;
        s[eq + 1..].trim_start()
    } else {
        s
    };
    let mut chars = body.char_indices().peekable();
    let node = list(&mut chars)?;
    if chars.any(|(_, c)| !c.is_whitespace()) {
        return Err("text after the array");
    }
    Ok(node)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn skip_ws(chars: &mut Chars<'_>) {
    while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
}

fn list(chars: &mut Chars<'_>) -> Result<Node, &'static str> {
    if chars.next().map(|(_, c)| c) != Some('{') {
        return Err("expected '{'");
    }
    let mut items = Vec::new();
    skip_ws(chars);
    if chars.next_if(|(_, c)| *c == '}').is_some() {
        return Ok(Node::List(items));
    }
    loop {
        skip_ws(chars);
        let item = match chars.peek().map(|(_, c)| *c) {
            Some('{') => list(chars)?,
            Some('"') => {
                chars.next();
                Node::Item(quoted(chars)?)
            }
            Some(_) => {
                let raw = unquoted(chars, &[',', '}']);
                if raw.eq_ignore_ascii_case("NULL") {
                    Node::Null
                } else {
                    Node::Item(raw)
                }
            }
            None => return Err("unterminated array"),
        };
        items.push(item);
        skip_ws(chars);
        match chars.next().map(|(_, c)| c) {
            Some(',') => {}
            Some('}') => return Ok(Node::List(items)),
            _ => return Err("expected ',' or '}'"),
        }
    }
}

/// The rest of a double-quoted element (the opening quote is consumed): backslash escapes
/// any character.
fn quoted(chars: &mut Chars<'_>) -> Result<String, &'static str> {
    let mut out = String::new();
    loop {
        match chars.next().map(|(_, c)| c) {
            Some('\\') => out.push(chars.next().ok_or("unterminated quote")?.1),
            Some('"') => return Ok(out),
            Some(c) => out.push(c),
            None => return Err("unterminated quote"),
        }
    }
}

/// An unquoted element up to a delimiter, trailing whitespace trimmed.
fn unquoted(chars: &mut Chars<'_>, stops: &[char]) -> String {
    let mut out = String::new();
    while let Some(&(_, c)) = chars.peek() {
        if stops.contains(&c) {
            break;
        }
        chars.next();
        if c == '\\' {
            if let Some((_, escaped)) = chars.next() {
                out.push(escaped);
            }
        } else {
            out.push(c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Parses a composite literal into its fields; an empty unquoted field is NULL.
pub fn parse_composite(s: &str) -> Result<Vec<Option<String>>, &'static str> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or("expected '(...)'")?;
    let mut fields = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        let mut value = String::new();
        let mut seen = false;
        loop {
            match chars.peek().copied() {
                None | Some(',') => break,
                Some('"') => {
                    chars.next();
                    seen = true;
                    loop {
                        match chars.next() {
                            // A doubled quote inside quotes is one quote.
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                value.push('"');
                            }
                            Some('"') => break,
                            Some('\\') => value.push(chars.next().ok_or("unterminated quote")?),
                            Some(c) => value.push(c),
                            None => return Err("unterminated quote"),
                        }
                    }
                }
                Some('\\') => {
                    chars.next();
                    seen = true;
                    value.push(chars.next().ok_or("dangling backslash")?);
                }
                Some(c) => {
                    chars.next();
                    seen = true;
                    value.push(c);
                }
            }
        }
        fields.push(seen.then_some(value));
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(s: &str) -> Node {
        Node::Item(s.into())
    }

    #[test]
    fn arrays() {
        assert_eq!(
            parse_array(r#"{1,"a \"b\"",NULL,"NULL", x y }"#).unwrap(),
            Node::List(vec![
                item("1"),
                item("a \"b\""),
                Node::Null,
                item("NULL"),
                item("x y")
            ])
        );
        assert_eq!(
            parse_array("[0:1]={{1},{2}}").unwrap(),
            Node::List(vec![
                Node::List(vec![item("1")]),
                Node::List(vec![item("2")])
            ])
        );
        assert_eq!(parse_array("{}").unwrap(), Node::List(vec![]));
        assert!(parse_array("{1,").is_err());
        assert!(parse_array("{1} x").is_err());
        assert!(parse_array(r#"{"abc}"#).is_err());
    }

    #[test]
    fn composites() {
        assert_eq!(
            parse_composite(r#"(1,"a ""b""",,"")"#).unwrap(),
            vec![
                Some("1".into()),
                Some("a \"b\"".into()),
                None,
                Some(String::new())
            ]
        );
        assert_eq!(parse_composite("()").unwrap(), vec![None]);
        assert!(parse_composite("(1").is_err());
    }
}
