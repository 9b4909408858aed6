//! The accounts service, each scenario run on SQLite and on a PostgreSQL of the test's own.

mod account;
mod admin;
mod http;
mod scenarios;

use btcr_accounts::{Accounts, AccountsConfig, Clock, Database, PasswordPolicy};
use btcr_testkit::TempAppDatabase;

/// One backend under test, with what keeps it alive.
pub(crate) struct Backend {
    pub(crate) accounts: Accounts,
    pub(crate) clock: Clock,
    pub(crate) url: String,
    pub(crate) config: AccountsConfig,
    _database: TempAppDatabase,
}

impl Backend {
    /// Another service on the same database (a second replica, or a restart).
    pub(crate) async fn reopen(&self, config: AccountsConfig) -> eyre::Result<Accounts> {
        Ok(Accounts::open(Database::open(&self.url).await?, config).await?)
    }
}

/// Cheap hashing: these tests are about behaviour, and the benchmark measures the real cost.
pub(crate) fn test_config(clock: &Clock) -> AccountsConfig {
    AccountsConfig {
        passwords: PasswordPolicy { memory_kib: 1024, iterations: 1, ..Default::default() },
        clock: clock.clone(),
        ..Default::default()
    }
}

async fn open(database: TempAppDatabase) -> eyre::Result<Backend> {
    let clock = Clock::manual(1_800_000_000_000);
    let config = test_config(&clock);
    let url = database.url();
    let accounts = Accounts::open(Database::open(&url).await?, config.clone()).await?;
    Ok(Backend { accounts, clock, url, config, _database: database })
}

use account::*;
use admin::*;
use http::*;
use scenarios::*;

btcr_testkit::on_both_databases!(
    crate::open;
    a_user_registers_logs_in_and_refreshes,
    a_taken_or_malformed_address_and_a_weak_password_are_refused,
    a_wrong_password_and_an_unknown_address_get_one_answer_and_are_audited,
    an_access_token_expires_and_a_session_ends_unrefreshed,
    a_reused_refresh_token_revokes_its_whole_session_only,
    two_refreshes_racing_with_one_token_cannot_both_win,
    logout_and_revoke_end_a_session_and_only_their_own,
    an_admin_disables_a_user_who_then_cannot_log_in_or_refresh,
    a_login_rehashes_a_password_when_the_parameters_rise,
    replicas_on_one_database_share_the_token_key,
    the_audit_log_is_append_only_and_a_changed_record_breaks_its_chain,
    totp_is_confirmed_by_a_code_and_then_guards_every_login,
    a_recovery_code_works_once_and_wrong_codes_end_the_challenge,
    api_keys_act_for_their_owner_within_their_scopes,
    the_auth_routes_sign_in_refresh_and_out_with_a_strict_cookie,
    admin_routes_refuse_users_and_serve_admins,
    totp_and_api_keys_over_http,
    repeated_logins_registrations_and_refreshes_are_locked_out_for_a_while,
    settings_close_registration_tighten_limits_and_show_a_banner_on_every_replica,
    an_admin_lists_users_by_search_and_page_and_reads_the_figures,
    a_password_change_needs_the_current_one_and_ends_the_other_sessions,
    a_keystore_backup_is_checked_kept_replaced_and_deleted,
    a_watch_list_holds_checked_addresses_up_to_its_bound,
    settings_users_stats_password_keystore_and_watchlist_over_http,
    replicas_count_failures_in_one_redis_and_refuse_while_it_is_down,
);
