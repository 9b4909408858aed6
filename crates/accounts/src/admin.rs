//! What administrators read: the users (searched and paged) and the service's figures.
//! Every read here checks the caller's stored role, so a token minted before a demotion
//! reads nothing.

use serde::Serialize;

use crate::{
    Accounts, AccountsError, Role, User,
    db::on_backend,
    service::{SELECT_USER, UserRow, user_of},
};

/// The most users one page holds.
pub const MAX_USERS_PAGE: i64 = 100;
/// The longest search text, in characters.
const MAX_SEARCH_CHARS: usize = 254;
/// Days of sign-ups the statistics count.
pub const SIGNUP_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

/// One page of users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    /// The users on it, by id.
    pub users: Vec<User>,
    /// Users matching the search in all.
    pub total: i64,
}

/// Sign-ups on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Users who registered that day.
    pub count: i64,
}

/// The accounts' figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountStats {
    /// Users in all.
    pub users: i64,
    /// Of which administrators.
    pub admins: i64,
    /// Of which disabled.
    pub disabled: i64,
    /// Of which with TOTP on.
    pub with_totp: i64,
    /// Sessions not ended nor expired.
    pub active_sessions: i64,
    /// API keys not revoked.
    pub api_keys: i64,
    /// Sign-ups on each of the last 30 days, oldest first (days with none included).
    pub signups_per_day: Vec<DayCount>,
}

/// The civil date (UTC) of a day counted from 1970-01-01.
fn civil_date(days: i64) -> String {
    // Days are shifted to start on 0000-03-01, so that a leap day ends its year; a 400-year
    // era has 146,097 days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `text` as a LIKE pattern that matches it anywhere, its wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Accounts {
    /// Refuses unless `admin` is, as stored now, an enabled administrator.
    pub(crate) async fn require_admin(&self, admin: i64) -> Result<(), AccountsError> {
        let user = self.user(admin).await?;
        if user.role != Role::Admin || user.disabled {
            return Err(AccountsError::Forbidden);
        }
        Ok(())
    }

    /// Users whose e-mail address contains `search` (any case), by id, `limit` (1 to 100)
    /// from `offset`.
    pub async fn list_users(
        &self,
        admin: i64,
        search: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<UserPage, AccountsError> {
        self.require_admin(admin).await?;
        let search = search.unwrap_or_default();
        if search.chars().count() > MAX_SEARCH_CHARS {
            return Err(AccountsError::InvalidQuery("the search is longer than 254 characters"));
        }
        if !(1..=MAX_USERS_PAGE).contains(&limit) {
            return Err(AccountsError::InvalidQuery("limit must be 1 to 100"));
        }
        if offset < 0 {
            return Err(AccountsError::InvalidQuery("offset must not be negative"));
        }
        let pattern = contains_pattern(search);
        let sql =
            format!("{SELECT_USER} WHERE email LIKE $1 ESCAPE '\\' ORDER BY id LIMIT $2 OFFSET $3");
        let (rows, total): (Vec<UserRow>, i64) = on_backend!(self.inner.db, pool => {
            let rows = sqlx::query_as(&sql)
                .bind(&pattern)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email LIKE $1 ESCAPE '\\'")
                .bind(&pattern)
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        let users = rows.iter().map(user_of).collect::<Result<_, _>>()?;
        Ok(UserPage { users, total })
    }

    /// The accounts' figures, for an administrator.
    pub async fn account_stats(&self, admin: i64) -> Result<AccountStats, AccountsError> {
        self.require_admin(admin).await?;
        let now = self.inner.clock.now_db();
        let today = now.div_euclid(DAY_MS);
        let first_day = today - (SIGNUP_DAYS - 1);
        type Counts = (i64, i64, i64, i64, i64, i64);
        let (counts, days): (Counts, Vec<(i64, i64)>) = on_backend!(self.inner.db, pool => {
            let counts = sqlx::query_as(
                "SELECT \
                   (SELECT COUNT(*) FROM users), \
                   (SELECT COUNT(*) FROM users WHERE role = 'admin'), \
                   (SELECT COUNT(*) FROM users WHERE disabled), \
                   (SELECT COUNT(*) FROM totp WHERE confirmed_ms IS NOT NULL), \
                   (SELECT COUNT(*) FROM sessions WHERE revoked_ms IS NULL AND expires_ms > $1), \
                   (SELECT COUNT(*) FROM api_keys WHERE revoked_ms IS NULL)",
            )
            .bind(now)
            .fetch_one(pool)
            .await?;
            let days = sqlx::query_as(
                "SELECT created_ms / $1 AS day, COUNT(*) FROM users WHERE created_ms >= $2 \
                 GROUP BY day ORDER BY day",
            )
            .bind(DAY_MS)
            .bind(first_day * DAY_MS)
            .fetch_all(pool)
            .await?;
            (counts, days)
        });
        let (users, admins, disabled, with_totp, active_sessions, api_keys) = counts;
        let signups_per_day = (first_day..=today)
            .map(|day| DayCount {
                day: civil_date(day),
                count: days.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n),
            })
            .collect();
        Ok(AccountStats {
            users,
            admins,
            disabled,
            with_totp,
            active_sessions,
            api_keys,
            signups_per_day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_the_epoch_are_named_by_their_civil_date() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(59), "1970-03-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(11_017), "2000-03-01");
        assert_eq!(civil_date(20_790), "2026-12-03");
        assert_eq!(civil_date(-1), "1969-12-31");
    }

    #[test]
    fn a_search_matches_its_text_literally() {
        assert_eq!(contains_pattern("Ann"), "%ann%");
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
