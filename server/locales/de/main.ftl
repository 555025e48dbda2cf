# AuthGate-Seiten, Deutsch. Dieselben Nachrichten-IDs wie en/main.ftl.
# Technische Angaben (Codes wie BCDF-GHJK, Adressen, Scope-Namen) bleiben unverändert.

## Jede Seite

page-skip = Zum Inhalt springen
nav-account = Konto
nav-your-account = Ihr Konto:
nav-sign-out = Abmelden
lang-switch = Sprache

## Anmelden

login-title = Anmelden
login-lead = Melden Sie sich an, um ein Gerät mit Ihrem Konto zu verbinden oder die Geräte mit Zugriff zu verwalten.
login-username = Benutzername
login-password = Passwort
login-wrong = Benutzername oder Passwort ist falsch.
login-too-many = { $secs ->
    [one] Zu viele fehlgeschlagene Anmeldungen. Versuchen Sie es in 1 Sekunde erneut.
   *[other] Zu viele fehlgeschlagene Anmeldungen. Versuchen Sie es in { $secs } Sekunden erneut.
}
attempt-in-flight = Ihr vorheriger Versuch wird noch geprüft. Versuchen Sie es in 1 Sekunde erneut.
attempt-busy = Der Server prüft gerade sehr viele Passwörter. Versuchen Sie es in 1 Sekunde erneut.

## Code eingeben

device-title = Gerät verbinden
device-lead = Geben Sie den Code ein, den Ihr Gerät anzeigt.
device-wait = Bitte warten.
device-check = Prüfen Sie den Code.
device-code = Code
device-code-help = 8 Buchstaben, etwa BCDF-GHJK. Groß- und Kleinschreibung, Bindestriche und Leerzeichen spielen keine Rolle.
device-continue = Weiter
device-aside = Haben Sie einen QR-Code gescannt oder einen Link vom Gerät geöffnet? Dann entfällt dieser Schritt.
code-invalid-character = Ein Code besteht nur aus den Zeichen, die Ihr Gerät anzeigt: Buchstaben ohne Vokale oder nur Ziffern. Prüfen Sie ihn und versuchen Sie es erneut.
code-shape = Ein Code hat 8 Buchstaben, etwa BCDF-GHJK, oder 10 Ziffern, etwa 01234-56789. Prüfen Sie ihn und versuchen Sie es erneut.
code-wrong = Dieser Code ist falsch, abgelaufen oder wurde schon verwendet. Prüfen Sie den Code auf Ihrem Gerät; ist er abgelaufen, beginnen Sie dort von vorn.
code-throttled = { $secs ->
    [one] Zu viele falsche Codes. Zu Ihrer Sicherheit können Codes kurzzeitig nicht geprüft werden. Versuchen Sie es in 1 Sekunde erneut.
   *[other] Zu viele falsche Codes. Zu Ihrer Sicherheit können Codes kurzzeitig nicht geprüft werden. Versuchen Sie es in { $secs } Sekunden erneut.
}

## Zustimmung

consent-title = { $client } zulassen?
consent-eyebrow = Anmeldeanfrage eines Geräts
consent-heading = { $client } mit Ihrem Konto verbinden?
consent-code = Code auf dem Gerät
consent-warning-strong = Lassen Sie nur ein Gerät zu, das Sie gerade in der Hand halten und das genau jetzt diesen Code anzeigt.
consent-warning = Hat Ihnen jemand diesen Code oder Link geschickt oder Sie gebeten, ihn einzugeben, tippen Sie auf „Ablehnen“: Mit einer Zustimmung erhielte diese Person Zugriff auf Ihr Konto.
consent-can = Das Gerät darf dann
consent-about = Zu dieser Anfrage
consent-app = Anwendung
consent-asked = Angefragt
consent-from = Absenderadresse
consent-same-network = (das Netz, in dem Sie gerade sind)
consent-software = Software des Geräts
consent-expires = Code noch gültig für
consent-approve = Zulassen
consent-deny = Ablehnen

## Was ein Gerät darf

scope-profile = Ihren Benutzernamen sehen
scope-read = Ihre Daten lesen
scope-write = Ihre Daten ändern

## Dauer und Zeit

duration-under-minute = weniger als eine Minute
duration-minutes = { $n ->
    [one] 1 Minute
   *[other] { $n } Minuten
}
duration-hours = { $n ->
    [one] 1 Stunde
   *[other] { $n } Stunden
}
duration-days = { $n ->
    [one] 1 Tag
   *[other] { $n } Tage
}
ago-under-minute = vor weniger als einer Minute
ago-minutes = { $n ->
    [one] vor 1 Minute
   *[other] vor { $n } Minuten
}
ago-hours = { $n ->
    [one] vor 1 Stunde
   *[other] vor { $n } Stunden
}
ago-days = { $n ->
    [one] vor 1 Tag
   *[other] vor { $n } Tagen
}
time-now = jetzt
time-unknown = unbekannt
time-never = noch nie

## Nach Zulassen oder Ablehnen

outcome-approved = Gerät zugelassen
outcome-approved-text = Kehren Sie zu Ihrem Gerät zurück: Es verbindet sich innerhalb weniger Sekunden. Doch anders entschieden? Widerrufen Sie den Zugriff unter „Ihre Geräte“.
outcome-denied = Anfrage abgelehnt
outcome-denied-text = Das Gerät hat keinen Zugriff erhalten, und sein Code kann nicht erneut verwendet werden. Sie müssen nichts weiter tun.
outcome-not-found = Unbekannter Code
outcome-not-found-text = Zu diesem Code wartet keine Anfrage: Es gibt ihn nicht, oder er wurde schon beantwortet. Prüfen Sie den Code auf Ihrem Gerät.
outcome-expired = Code abgelaufen
outcome-expired-text = Dieser Code ist abgelaufen. Beginnen Sie auf Ihrem Gerät von vorn, um einen neuen zu erhalten.
outcome-already = Bereits beantwortet
outcome-already-text = Diese Anfrage wurde bereits zugelassen oder abgelehnt.
result-connected = { $client } ist jetzt mit Ihrem Konto verbunden.
result-not-connected = { $client } wurde nicht verbunden.
result-it-can = Das Gerät darf:
result-your-devices = Ihre Geräte
result-connect-another = Weiteres Gerät verbinden

## Kurze Seiten

message-form-expired = Formular abgelaufen
message-consent-expired-text = Dieses Zustimmungsformular ist nicht mehr gültig. Geben Sie den Code von Ihrem Gerät erneut ein.
message-enter-code = Code eingeben
message-sign-out = Abmelden?
message-sign-out-text = Verwenden Sie die Schaltfläche „Abmelden“ oben auf der Seite.

## Ihr Konto

account-title = Ihr Konto
account-devices = Geräte mit Zugriff
account-device-count = { $n ->
    [0] Kein Gerät kann Ihr Konto verwenden.
    [one] Ein Gerät kann Ihr Konto verwenden.
   *[other] { $n } Geräte können Ihr Konto verwenden.
}
account-revoke-hint = Ein Widerruf stoppt das Gerät sofort: Es kann sich nicht mehr erneuern, und sein aktuelles Zugriffstoken funktioniert nicht mehr.
account-approved = Zugelassen
account-last-refreshed = Zuletzt erneuert
account-expires = Läuft ab
account-device-address = Adresse des Geräts
account-revoke = Widerrufen
account-revoke-which = { $client }, zugelassen am { $date }
account-revoke-all = Alle Geräte widerrufen
account-sessions = Wo Sie angemeldet sind
account-session-count = { $n ->
    [one] Sie sind in einem Browser angemeldet.
   *[other] Sie sind in { $n } Browsern angemeldet.
}
account-this-browser = Dieser Browser
account-address = Adresse
account-signed-in = Angemeldet
account-last-active = Zuletzt aktiv
account-sign-out = Abmelden
account-sign-out-this = in diesem Browser
account-sign-out-which = { $browser }, angemeldet am { $date }
account-sign-out-others = Überall sonst abmelden
account-password = Passwort
browser-unknown = Unbekannter Browser
browser-generic = Ein Browser
browser-on = { $browser } unter { $os }
notice-revoked = Gerät widerrufen. Es kann sich nicht mehr erneuern, und sein Zugriffstoken funktioniert nicht mehr.
notice-revoked-all = Alle Geräte widerrufen. Keines davon kann Ihr Konto noch verwenden.
notice-signed-out = Dieser Browser wurde abgemeldet.
notice-signed-out-others = Alle anderen Browser wurden abgemeldet.
notice-password = Passwort geändert. Alle anderen Browser wurden abgemeldet; Geräte behalten ihren Zugriff.

## Passwort ändern

password-title = Passwort ändern
password-lead = Alle anderen Browser, die bei Ihrem Konto angemeldet sind, werden abgemeldet. Verbundene Geräte behalten ihren Zugriff; Sie können ihn auf Ihrer Kontoseite widerrufen.
password-current = Aktuelles Passwort
password-new = Neues Passwort
password-new-help = Mindestens 8 Zeichen. Ein paar Wörter, die nichts miteinander zu tun haben, ergeben ein gutes.
password-again = Neues Passwort wiederholen
password-back = Zurück zu Ihrem Konto
password-too-short = { $n ->
    [one] Das neue Passwort ist zu kurz: Verwenden Sie mindestens 1 Zeichen.
   *[other] Das neue Passwort ist zu kurz: Verwenden Sie mindestens { $n } Zeichen.
}
password-mismatch = Die beiden neuen Passwörter stimmen nicht überein.
password-wrong-current = Ihr aktuelles Passwort ist nicht richtig.
password-too-many = { $secs ->
    [one] Zu viele falsche Passwörter. Versuchen Sie es in 1 Sekunde erneut.
   *[other] Zu viele falsche Passwörter. Versuchen Sie es in { $secs } Sekunden erneut.
}

## Wenn etwas schiefgeht

error-start-again = Neu beginnen
error-not-found = Nicht gefunden
error-not-found-text = Unter dieser Adresse gibt es keine Seite.
error-not-allowed = Nicht erlaubt
error-not-allowed-text = Diese Adresse akzeptiert nur { $methods }.
error-uri-too-long = Adresse zu lang
error-uri-too-long-text = Die Abfrage ist länger als { $limit } Bytes.
error-csrf-text = Dieses Formular ist nicht mehr gültig. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es noch einmal.
error-not-a-form = Formular nicht unterstützt
error-not-a-form-text = Diese Seite nimmt nur HTML-Formulare entgegen.
error-too-large = Zu viele Daten
error-too-large-text = Das Formular war größer als erlaubt.
error-incomplete = Unvollständiges Formular
error-incomplete-text = Das Formular konnte nicht gelesen werden.
error-too-slow = Zu langsam
error-too-slow-text = Das Formular kam zu langsam an. Bitte versuchen Sie es erneut.
error-invalid-form = Ungültiges Formular
error-invalid-form-text = Das Formular konnte nicht gelesen werden, weil es fehlerhaft ist. Gehen Sie zurück und versuchen Sie es erneut.
error-storage = Etwas ist schiefgegangen
error-storage-text = Der Server konnte diese Anfrage nicht abschließen. Bitte versuchen Sie es erneut.
error-busy = Ausgelastet
error-busy-text = Der Server ist gerade ausgelastet. Bitte versuchen Sie es gleich noch einmal.
error-password-not-stored-text = Das neue Passwort konnte nicht gespeichert werden. Bitte versuchen Sie es erneut.
error-no-decision = Keine Entscheidung
error-no-decision-text = Wählen Sie „Zulassen“ oder „Ablehnen“.
error-invalid-code = Ungültiger Code
error-invalid-code-text = Dieser Code ist nicht gültig.
error-unknown-device = Unbekanntes Gerät
error-unknown-device-text = Dieses Gerät wurde nicht gefunden.
error-no-device-text = Es wurde kein Gerät ausgewählt.
error-unknown-session = Unbekannte Sitzung
error-unknown-session-text = Diese Sitzung wurde nicht gefunden.
error-no-session-text = Es wurde keine Sitzung ausgewählt.
error-account-changed = Konto geändert
error-account-changed-text = Dieses Konto wurde inzwischen geändert. Melden Sie sich erneut an.

## Admin console
account-admin-console = Verwaltungskonsole
admin-nav = Administration
admin-users = Benutzer
admin-clients = Clients
admin-grants = Aktive Freigaben
admin-audit = Prüfprotokoll
admin-keys = Signaturschlüssel
admin-role-admin = Admin
admin-disabled = deaktiviert
admin-created = Erstellt
admin-dpop = DPoP
admin-token-format = Format der Zugriffstoken
admin-redirect-uris = Weiterleitungs-URIs
admin-redirect-uris-help = Eine pro Zeile: https, http zu 127.0.0.1 oder [::1] (jeder Port passt) oder ein App-Schema wie com.example.app:/cb.
admin-device-code-ttl = Gültigkeit des Gerätecodes
admin-poll-interval = Abfrageintervall
admin-user-code-format = Format des Benutzercodes
admin-server-default = Standard des Servers
admin-user-add = Benutzer hinzufügen
admin-username = Benutzername
admin-password = Passwort (mindestens 8 Zeichen)
admin-new-password = Neues Passwort (mindestens 8 Zeichen)
admin-make-admin = Administrator (darf diese Konsole nutzen)
admin-none = Keine.
admin-scopes = Bereiche
admin-expires = Läuft ab
admin-revoke = Widerrufen
admin-revoke-all = Alle widerrufen
admin-sessions = Angemeldete Browser
admin-signed-in = Angemeldet
admin-address = Adresse
admin-browser = Browser
admin-actions = Aktionen
admin-role-grant = Zum Administrator machen
admin-role-remove = Administratorrolle entziehen
admin-password-reset = Passwort zurücksetzen
admin-enable = Aktivieren
admin-disable = Deaktivieren
admin-delete = Löschen
admin-confirm = Ja, ich bin sicher
admin-client-name = Angezeigter Name
admin-scopes-help = Durch Leerzeichen getrennt, z. B. profile read write.
admin-grant-types = Grant-Typen
admin-access-ttl = Lebensdauer des Zugriffstokens
admin-refresh-ttl = Lebensdauer des Aktualisierungstokens
admin-ttl-help = Sekunden oder 15m, 12h, 30d; leer: Vorgabe des Servers.
admin-confidential = vertraulich
admin-client-add = Client hinzufügen
admin-client-id = Client-ID
admin-confidential-help = Vertraulich: ein Ressourcenserver oder Backend mit Geheimnis
admin-client-edit = Einstellungen
admin-save = Speichern
admin-rotate-secret = Neues Geheimnis
admin-secret-title = Client-Geheimnis
admin-secret-lead = Jetzt kopieren: Es wird nur dieses eine Mal angezeigt und nur als Hash gespeichert.
admin-secret = Geheimnis
admin-continue = Weiter
admin-kind = Art
admin-any = Alle
admin-audit-user = Benutzer (Handelnder oder Betroffener)
admin-since = Von
admin-until = Bis
admin-time-help = Ein Datum (2026-01-31, UTC) oder Unix-Sekunden.
admin-filter = Filtern
admin-export = Als JSON-Zeilen exportieren
admin-time = Zeit
admin-actor = Durch
admin-subject = Betroffen
admin-detail = Details
admin-keys-lead = Neue Token werden mit dem markierten Schlüssel signiert; die anderen bleiben veröffentlicht, damit ihre Token bis zum Ablauf gültig bleiben.
admin-signing = signiert
admin-key-rotate = Wechseln: neuer Signaturschlüssel
admin-done-user-added = Der Benutzer wurde hinzugefügt.
admin-done-user-changed = Der Benutzer wurde geändert.
admin-done-user-deleted = Der Benutzer wurde gelöscht.
admin-done-revoked = Der Zugriff wurde widerrufen.
admin-done-client-changed = Der Client wurde gespeichert.
admin-done-client-deleted = Der Client wurde gelöscht.
admin-done-key-rotated = Ein neuer Signaturschlüssel ist in Gebrauch.
error-forbidden = Nur für Administratoren
error-forbidden-text = Diese Seite ist nur für Administratoren.
error-admin-refused = Nicht ausgeführt
error-no-such-user-text = Diesen Benutzer gibt es nicht.
error-no-such-client-text = Diesen Client gibt es nicht.
error-not-confirmed-text = Setzen Sie dazu das Bestätigungshäkchen.
error-unknown-action-text = Diese Aktion ist unbekannt.
error-password-short-text = Das Passwort muss mindestens 8 Zeichen haben.
error-not-yourself-text = Das können Sie mit Ihrem eigenen Konto nicht tun.
error-bad-lifetime-text = Eine Lebensdauer ist ungültig: Sekunden oder 15m, 12h, 30d verwenden.
error-bad-time-text = Ein Datum ist ungültig: 2026-01-31 oder Unix-Sekunden verwenden.
error-bad-name-text = Namen bestehen aus 1 bis 64 Buchstaben, Ziffern und - _ . @.
error-name-taken-text = Dieser Name ist bereits vergeben.
error-public-client-text = Ein öffentlicher Client hat kein Geheimnis.
error-client-setting-text = Eine Client-Einstellung ist nicht erlaubt: client_credentials braucht einen vertraulichen Client, Weiterleitungs-URIs müssen https, http zu 127.0.0.1 oder [::1] oder ein privates Schema sein, und Gültigkeiten und Intervalle müssen in ihren Bereichen liegen.

## Autorisierungscode-Ablauf (RFC 6749 §4.1)

authorize-eyebrow = Anmeldeanfrage einer Anwendung
authorize-warning-strong = Lassen Sie nur zu, wenn Sie die Anmeldung bei dieser Anwendung gerade selbst begonnen haben.
authorize-warning = Hat Sie ein unerwarteter Link hierher geführt, tippen Sie auf „Ablehnen“: Mit einer Zustimmung erhielte diese Anwendung Zugriff auf Ihr Konto.
authorize-returns = Zurück zu
error-unknown-client = Unbekannte Anwendung
error-unknown-client-text = Diese Anwendung ist hier nicht registriert oder deaktiviert. Es wurde nichts an sie zurückgesendet.
error-bad-redirect = Rücksprungadresse nicht erlaubt
error-bad-redirect-text = Die Anwendung wollte Sie an eine Adresse zurückschicken, die sie nicht registriert hat. Zu Ihrer Sicherheit wurden Sie nicht dorthin geleitet.
