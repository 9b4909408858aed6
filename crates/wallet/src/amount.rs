//! Decimal amounts: `1.5` BTCR is 1.5 × 10^18 wei; a token's amount uses its `decimals`.

use alloy_primitives::U256;

/// Why an amount does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid amount {input:?}: {reason}")]
pub struct AmountError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a decimal amount (`12`, `0.5`, `1_000.25`) into base units with `decimals`
/// fraction digits.
pub fn parse_units(input: &str, decimals: u8) -> Result<U256, AmountError> {
    let err = |reason: &str| AmountError { input: input.to_owned(), reason: reason.to_owned() };
    let cleaned: String = input.trim().chars().filter(|c| *c != '_').collect();
    if cleaned.is_empty() {
        return Err(err("empty"));
    }
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(err("no digits"));
    }
    if !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(err("only digits and one decimal point are allowed"));
    }
    if fraction.len() > decimals as usize {
        return Err(err(&format!("more than {decimals} decimal places")));
    }
    let digits = format!("{whole}{fraction:0<width$}", width = decimals as usize);
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(digits, 10).map_err(|_| err("too large"))
}

/// Formats base units with `decimals` fraction digits, trailing zeros dropped.
pub fn format_units(value: U256, decimals: u8) -> String {
    let s = value.to_string();
    let d = decimals as usize;
    let (whole, fraction) = if s.len() > d {
        (s[..s.len() - d].to_owned(), s[s.len() - d..].to_owned())
    } else {
        ("0".to_owned(), format!("{s:0>d$}"))
    };
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { whole } else { format!("{whole}.{fraction}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_and_format_with_18_decimals() {
        let wei = |s: &str| U256::from_str_radix(s, 10).unwrap();
        assert_eq!(parse_units("1.5", 18).unwrap(), wei("1500000000000000000"));
        assert_eq!(parse_units("0.000000000000000001", 18).unwrap(), U256::from(1));
        assert_eq!(parse_units("1_000", 18).unwrap(), wei("1000000000000000000000"));
        assert_eq!(parse_units(".25", 2).unwrap(), U256::from(25));
        assert_eq!(parse_units("0", 18).unwrap(), U256::ZERO);
        for bad in ["", ".", "1.2.3", "-1", "1e18", "0.0000000000000000001", "abc"] {
            assert!(parse_units(bad, 18).is_err(), "{bad}");
        }
        assert_eq!(format_units(wei("1500000000000000000"), 18), "1.5");
        assert_eq!(format_units(U256::from(1), 18), "0.000000000000000001");
        assert_eq!(format_units(wei("10000000000000000000000"), 18), "10000");
        assert_eq!(format_units(U256::from(25), 0), "25");
        for s in ["0.1", "123.456", "1", "0"] {
            assert_eq!(format_units(parse_units(s, 6).unwrap(), 6), s);
        }
    }
}
