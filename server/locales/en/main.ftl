# AuthGate pages, English: the default and the fallback, and the reference every
# other locale must match id for id (a unit test checks it).
# Technical tokens (codes like BCDF-GHJK, addresses, scope names) stay as they are.

## Every page

page-skip = Skip to content
nav-account = Account
nav-your-account = Your account:
nav-sign-out = Sign out
lang-switch = Language

## Sign in

login-title = Sign in
login-lead = Sign in to connect a device to your account, or to manage the devices that have access.
login-username = User name
login-password = Password
login-wrong = Wrong user name or password.
login-too-many = Too many failed sign-ins. Try again in { $secs } s.
attempt-in-flight = Your previous attempt is still being checked. Try again in 1 s.
attempt-busy = The server is busy checking passwords. Try again in 1 s.

## Entering a code

device-title = Connect a device
device-lead = Type the code your device is showing.
device-wait = Please wait.
device-check = Check the code.
device-code = Code
device-code-help = 8 letters, like BCDF-GHJK. Capitals, dashes and spaces don't matter.
device-continue = Continue
device-aside = Scanned a QR code or opened a link from the device? Then you skip this step.
code-invalid-character = A code has only the characters shown on your device: letters without vowels, or only digits. Check it and try again.
code-shape = A code has 8 letters, like BCDF-GHJK, or 10 digits, like 01234-56789. Check it and try again.
code-wrong = That code is wrong, expired or already used. Check the code on your device; if it has expired, start again there.
code-throttled = Too many wrong codes. For your safety, codes can't be checked for a moment. Try again in { $secs } s.

## Consent

consent-title = Approve { $client }?
consent-eyebrow = Device sign-in request
consent-heading = Connect { $client } to your account?
consent-code = Code on the device
consent-warning-strong = Only approve a device you are holding that is showing this code right now.
consent-warning = If someone sent you this code or link, or asked you to enter it, press Deny: approving would let them into your account.
consent-can = It will be able to
consent-about = About this request
consent-app = App
consent-asked = Asked
consent-from = From address
consent-same-network = (the network you are on)
consent-software = Device software
consent-expires = Code expires in
consent-approve = Approve
consent-deny = Deny

## What a device may do

scope-profile = See your user name
scope-read = Read your data
scope-write = Change your data

## Durations and times

duration-under-minute = less than a minute
duration-minutes = { $n ->
    [one] 1 minute
   *[other] { $n } minutes
}
duration-hours = { $n ->
    [one] 1 hour
   *[other] { $n } hours
}
duration-days = { $n ->
    [one] 1 day
   *[other] { $n } days
}
ago-under-minute = less than a minute ago
ago-minutes = { $n ->
    [one] 1 minute ago
   *[other] { $n } minutes ago
}
ago-hours = { $n ->
    [one] 1 hour ago
   *[other] { $n } hours ago
}
ago-days = { $n ->
    [one] 1 day ago
   *[other] { $n } days ago
}
time-now = now
time-unknown = unknown
time-never = never

## After Approve or Deny

outcome-approved = Device approved
outcome-approved-text = Go back to your device: it connects within a few seconds. Changed your mind? Revoke it under Your devices.
outcome-denied = Request denied
outcome-denied-text = The device was not given access, and its code can't be used again. Nothing else is needed.
outcome-not-found = Unknown code
outcome-not-found-text = No request is waiting with this code: it does not exist or was already answered. Check the code on your device.
outcome-expired = Code expired
outcome-expired-text = This code has expired. Start again on your device to get a new one.
outcome-already = Already answered
outcome-already-text = This request was already approved or denied.
result-connected = { $client } is now connected to your account.
result-not-connected = { $client } was not connected.
result-it-can = It can:
result-your-devices = Your devices
result-connect-another = Connect another device

## Short pages

message-form-expired = Form expired
message-consent-expired-text = This approval form is no longer valid. Enter the code from your device again.
message-enter-code = Enter the code
message-sign-out = Sign out?
message-sign-out-text = Use the Sign out button at the top of the page.

## Your account

account-title = Your account
account-devices = Devices with access
account-device-count = { $n ->
    [0] No device can use your account.
    [one] One device can use your account.
   *[other] { $n } devices can use your account.
}
account-revoke-hint = Revoking a device stops it at once: it can't refresh, and its current access token stops working.
account-approved = Approved
account-last-refreshed = Last refreshed
account-expires = Expires
account-device-address = Device address
account-revoke = Revoke
account-revoke-which = { $client }, approved { $date }
account-revoke-all = Revoke all devices
account-sessions = Where you're signed in
account-session-count = { $n ->
    [one] You are signed in on one browser.
   *[other] You are signed in on { $n } browsers.
}
account-this-browser = This browser
account-address = Address
account-signed-in = Signed in
account-last-active = Last active
account-sign-out = Sign out
account-sign-out-this = this browser
account-sign-out-which = { $browser }, signed in { $date }
account-sign-out-others = Sign out everywhere else
account-password = Password
browser-unknown = Unknown browser
browser-generic = A browser
browser-on = { $browser } on { $os }
notice-revoked = Device revoked. It can no longer refresh, and its access token stopped working.
notice-revoked-all = All devices revoked. None of them can use your account any more.
notice-signed-out = That browser was signed out.
notice-signed-out-others = Every other browser was signed out.
notice-password = Password changed. Every other browser was signed out; devices keep their access.

## Changing the password

password-title = Change password
password-lead = Every other browser signed in to your account is signed out. Connected devices keep their access; you can revoke them on your account page.
password-current = Current password
password-new = New password
password-new-help = At least 8 characters. A few unrelated words make a good one.
password-again = New password again
password-back = Back to your account
password-too-short = { $n ->
    [one] The new password is too short: use at least 1 character.
   *[other] The new password is too short: use at least { $n } characters.
}
password-mismatch = The two new passwords are not the same.
password-wrong-current = Your current password is not right.
password-too-many = Too many wrong passwords. Try again in { $secs } s.

## When something goes wrong

error-start-again = Start again
error-not-found = Not found
error-not-found-text = There is no page at this address.
error-not-allowed = Not allowed
error-not-allowed-text = This address accepts { $methods } only.
error-uri-too-long = Address too long
error-uri-too-long-text = The query string is longer than { $limit } bytes.
error-csrf-text = This form is no longer valid. Go back, reload the page and try again.
error-not-a-form = Unsupported form
error-not-a-form-text = This page accepts only HTML form submissions.
error-too-large = Too much data
error-too-large-text = The form was larger than allowed.
error-incomplete = Incomplete form
error-incomplete-text = The form could not be read.
error-too-slow = Too slow
error-too-slow-text = The form took too long to arrive. Please try again.
error-invalid-form = Invalid form
error-invalid-form-text = The form could not be read: it is not well-formed. Go back and try again.
error-storage = Something went wrong
error-storage-text = The server could not complete this request. Please try again.
error-busy = Busy
error-busy-text = The server is busy. Please try again in a moment.
error-password-not-stored-text = The new password could not be stored. Please try again.
error-no-decision = No decision
error-no-decision-text = Choose Approve or Deny.
error-invalid-code = Invalid code
error-invalid-code-text = This code is not valid.
error-unknown-device = Unknown device
error-unknown-device-text = That device was not found.
error-no-device-text = No device was chosen.
error-unknown-session = Unknown session
error-unknown-session-text = That session was not found.
error-no-session-text = No session was chosen.
error-account-changed = Account changed
error-account-changed-text = This account was changed meanwhile. Sign in again.

## Admin console
account-admin-console = Admin console
admin-nav = Administration
admin-users = Users
admin-clients = Clients
admin-grants = Active grants
admin-audit = Audit log
admin-keys = Signing keys
admin-role-admin = admin
admin-disabled = disabled
admin-created = Created
admin-dpop = DPoP
admin-token-format = Access-token format
admin-redirect-uris = Redirect URIs
admin-redirect-uris-help = One a line: https, http to 127.0.0.1 or [::1] (any port matches), or an app scheme such as com.example.app:/cb.
admin-device-code-ttl = Device-code lifetime
admin-poll-interval = Poll interval
admin-user-code-format = User-code format
admin-server-default = The server's default
admin-user-add = Add user
admin-username = User name
admin-password = Password (at least 8 characters)
admin-new-password = New password (at least 8 characters)
admin-make-admin = Administrator (may use this console)
admin-none = None.
admin-scopes = Scopes
admin-expires = Expires
admin-revoke = Revoke
admin-revoke-all = Revoke all
admin-sessions = Signed-in browsers
admin-signed-in = Signed in
admin-address = Address
admin-browser = Browser
admin-actions = Actions
admin-role-grant = Make administrator
admin-role-remove = Remove administrator role
admin-password-reset = Reset password
admin-enable = Enable
admin-disable = Disable
admin-delete = Delete
admin-confirm = Yes, I am sure
admin-client-name = Name shown to people
admin-scopes-help = Separated by spaces, e.g. profile read write.
admin-grant-types = Grant types
admin-access-ttl = Access-token lifetime
admin-refresh-ttl = Refresh-token lifetime
admin-ttl-help = Seconds or 15m, 12h, 30d; empty: the server's default.
admin-confidential = confidential
admin-client-add = Add client
admin-client-id = Client ID
admin-confidential-help = Confidential: a resource server or backend with a secret
admin-client-edit = Settings
admin-save = Save
admin-rotate-secret = New secret
admin-secret-title = Client secret
admin-secret-lead = Copy it now: it is shown only this once and stored only as a hash.
admin-secret = Secret
admin-continue = Continue
admin-kind = Kind
admin-any = Any
admin-audit-user = User (actor or subject)
admin-since = From
admin-until = Until
admin-time-help = A date (2026-01-31, UTC) or Unix seconds.
admin-filter = Filter
admin-export = Export as JSON lines
admin-time = Time
admin-actor = By
admin-subject = Subject
admin-detail = Detail
admin-keys-lead = New tokens are signed with the marked key; the others are still published so tokens they signed verify until they expire.
admin-signing = signing
admin-key-rotate = Rotate: new signing key
admin-done-user-added = The user was added.
admin-done-user-changed = The user was changed.
admin-done-user-deleted = The user was deleted.
admin-done-revoked = Access was revoked.
admin-done-client-changed = The client was saved.
admin-done-client-deleted = The client was deleted.
admin-done-key-rotated = A new signing key is in use.
error-forbidden = Administrators only
error-forbidden-text = This page is for administrators only.
error-admin-refused = Not done
error-no-such-user-text = There is no such user.
error-no-such-client-text = There is no such client.
error-not-confirmed-text = Tick the confirmation box to do this.
error-unknown-action-text = This action is not known.
error-password-short-text = The password must have at least 8 characters.
error-not-yourself-text = You cannot do this to your own account.
error-bad-lifetime-text = A lifetime is not valid: use seconds or 15m, 12h, 30d.
error-bad-time-text = A date is not valid: use 2026-01-31 or Unix seconds.
error-bad-name-text = Names are 1 to 64 letters, digits and - _ . @ only.
error-name-taken-text = That name is already taken.
error-public-client-text = A public client has no secret.
error-client-setting-text = A client setting is not allowed: client_credentials needs a confidential client, redirect URIs must be https, http to 127.0.0.1 or [::1], or a private-use scheme, and lifetimes and intervals must be within their ranges.

## Authorization code flow (RFC 6749 §4.1)

authorize-eyebrow = Sign-in request from an app
authorize-warning-strong = Only approve if you just started signing in to this app yourself.
authorize-warning = If a link you did not expect brought you here, press Deny: approving would let that app into your account.
authorize-returns = Returns to
error-unknown-client = Unknown app
error-unknown-client-text = This app is not registered here, or it is disabled. Nothing was sent back to it.
error-bad-redirect = Return address not allowed
error-bad-redirect-text = The app asked to send you back to an address it has not registered. For your safety you were not sent there.
