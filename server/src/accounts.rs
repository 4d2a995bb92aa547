//! Accounts as an admin keeps them, the same from the CLI (`user add`) and the console's admin
//! page: a new user checked by core's rules, a password of a minimum length hashed with argon2
//! off the async workers, and a new password that ends every sign-in of the user.

use patrol_core::bounds::{MAX_PASSWORD_BYTES, MAX_USERNAME_CHARS};
use patrol_core::ids::{SiteId, UserId};
use patrol_core::team::Team;
use patrol_core::user::{Role, User};

use crate::auth::Passwords;
use crate::store::{Store, StoreError};

/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest name shown to others.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The request breaks a rule; the words are for people, Chinese then English.
    #[error("{0}")]
    Refused(String),
    /// Storage failed (logged, never shown).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Hashing failed (logged, never shown).
    #[error("password hashing failed")]
    Hash,
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Name shown to others; the username when empty.
    pub display_name: Option<String>,
    /// Role.
    pub role: Role,
    /// Team (technicians need one).
    pub team: Option<Team>,
    /// The site they work on.
    pub site: SiteId,
}

fn check_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Refused(format!(
            "密码至少 {MIN_PASSWORD_CHARS} 个字符 / the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::Refused(format!(
            "密码过长（最多 {MAX_PASSWORD_BYTES} 字节）/ the password is too long (at most {MAX_PASSWORD_BYTES} bytes)"
        )));
    }
    Ok(())
}

/// Add a user with an initial password. Nothing is stored unless every rule holds.
pub async fn add(
    store: &dyn Store,
    passwords: &Passwords,
    new: NewUser,
    password: &str,
) -> Result<User, AccountError> {
    let username = new.username.trim().to_owned();
    let display_name = new
        .display_name
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.clone());
    let user = User {
        id: UserId::new(),
        username,
        display_name,
        role: new.role,
        team: new.team,
        site_ids: vec![new.site],
    };
    let mut problems: Vec<String> = user.problems().into_iter().map(str::to_owned).collect();
    if user.username.chars().count() > MAX_USERNAME_CHARS
        || user.username.chars().any(char::is_whitespace)
    {
        problems.push(format!(
            "用户名不能含空格，最多 {MAX_USERNAME_CHARS} 个字符 / the username may not contain spaces and has at most {MAX_USERNAME_CHARS} characters"
        ));
    }
    if user.display_name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        problems.push(format!(
            "显示名称最多 {MAX_DISPLAY_NAME_CHARS} 个字符 / the display name has at most {MAX_DISPLAY_NAME_CHARS} characters"
        ));
    }
    if let Err(AccountError::Refused(p)) = check_password(password) {
        problems.push(p);
    }
    if !problems.is_empty() {
        return Err(AccountError::Refused(problems.join("; ")));
    }
    let hash = passwords
        .hash(password)
        .await
        .map_err(|_| AccountError::Hash)?;
    match store.add_user(&user, &hash).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(AccountError::Refused(format!(
            "用户名 `{}` 已被使用 / the username `{}` is taken",
            user.username, user.username
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Give a user a new password: every refresh token and console session of theirs ends.
pub async fn reset_password(
    store: &dyn Store,
    passwords: &Passwords,
    user: UserId,
    password: &str,
) -> Result<(), AccountError> {
    check_password(password)?;
    let hash = passwords
        .hash(password)
        .await
        .map_err(|_| AccountError::Hash)?;
    if store.set_password(user, &hash).await? {
        Ok(())
    } else {
        Err(AccountError::Refused("没有这个用户 / no such user".into()))
    }
}
