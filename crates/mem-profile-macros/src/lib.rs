//! The `#[profile_function]` attribute for mem-profile.
