# Pages d’AuthGate, français. Les mêmes identifiants que en/main.ftl.
# Les éléments techniques (codes comme BCDF-GHJK, adresses, noms de scope) restent tels quels.

## Toutes les pages

page-skip = Aller au contenu
nav-account = Compte
nav-your-account = Votre compte :
nav-sign-out = Se déconnecter
lang-switch = Langue

## Connexion

login-title = Se connecter
login-lead = Connectez-vous pour associer un appareil à votre compte ou pour gérer les appareils qui y ont accès.
login-username = Nom d’utilisateur
login-password = Mot de passe
login-wrong = Nom d’utilisateur ou mot de passe incorrect.
login-too-many = { $secs ->
    [one] Trop de connexions échouées. Réessayez dans { $secs } seconde.
   *[other] Trop de connexions échouées. Réessayez dans { $secs } secondes.
}
attempt-in-flight = Votre tentative précédente est encore en cours de vérification. Réessayez dans 1 seconde.
attempt-busy = Le serveur est occupé à vérifier des mots de passe. Réessayez dans 1 seconde.

## Saisir un code

device-title = Associer un appareil
device-lead = Saisissez le code affiché par votre appareil.
device-wait = Veuillez patienter.
device-check = Vérifiez le code.
device-code = Code
device-code-help = 8 lettres, par exemple BCDF-GHJK. Majuscules, tirets et espaces n’ont pas d’importance.
device-continue = Continuer
device-aside = Vous avez scanné un code QR ou ouvert un lien depuis l’appareil ? Dans ce cas, cette étape est inutile.
code-invalid-character = Un code ne contient que les caractères affichés sur votre appareil : des lettres sans voyelles, ou seulement des chiffres. Vérifiez-le et réessayez.
code-shape = Un code comporte 8 lettres, par exemple BCDF-GHJK, ou 10 chiffres, par exemple 01234-56789. Vérifiez-le et réessayez.
code-wrong = Ce code est erroné, expiré ou déjà utilisé. Vérifiez le code sur votre appareil ; s’il a expiré, recommencez depuis l’appareil.
code-throttled = { $secs ->
    [one] Trop de codes erronés. Pour votre sécurité, les codes ne peuvent pas être vérifiés pendant un moment. Réessayez dans { $secs } seconde.
   *[other] Trop de codes erronés. Pour votre sécurité, les codes ne peuvent pas être vérifiés pendant un moment. Réessayez dans { $secs } secondes.
}

## Autorisation

consent-title = Autoriser { $client } ?
consent-eyebrow = Demande de connexion d’un appareil
consent-heading = Associer { $client } à votre compte ?
consent-code = Code sur l’appareil
consent-warning-strong = N’autorisez qu’un appareil que vous avez en main et qui affiche ce code en ce moment même.
consent-warning = Si quelqu’un vous a envoyé ce code ou ce lien, ou vous a demandé de le saisir, appuyez sur « Refuser » : l’autoriser lui donnerait accès à votre compte.
consent-can = Il pourra
consent-about = À propos de cette demande
consent-app = Application
consent-asked = Demandé
consent-from = Depuis l’adresse
consent-same-network = (le réseau sur lequel vous êtes)
consent-software = Logiciel de l’appareil
consent-expires = Le code expire dans
consent-approve = Autoriser
consent-deny = Refuser

## Ce qu’un appareil peut faire

scope-profile = Voir votre nom d’utilisateur
scope-read = Lire vos données
scope-write = Modifier vos données

## Durées et dates

duration-under-minute = moins d’une minute
duration-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
duration-hours = { $n ->
    [one] { $n } heure
   *[other] { $n } heures
}
duration-days = { $n ->
    [one] { $n } jour
   *[other] { $n } jours
}
ago-under-minute = il y a moins d’une minute
ago-minutes = { $n ->
    [one] il y a { $n } minute
   *[other] il y a { $n } minutes
}
ago-hours = { $n ->
    [one] il y a { $n } heure
   *[other] il y a { $n } heures
}
ago-days = { $n ->
    [one] il y a { $n } jour
   *[other] il y a { $n } jours
}
time-now = maintenant
time-unknown = inconnue
time-never = jamais

## Après Autoriser ou Refuser

outcome-approved = Appareil autorisé
outcome-approved-text = Retournez à votre appareil : il se connecte dans quelques secondes. Vous avez changé d’avis ? Révoquez-le dans « Vos appareils ».
outcome-denied = Demande refusée
outcome-denied-text = L’appareil n’a pas obtenu l’accès, et son code ne peut plus être utilisé. Vous n’avez rien d’autre à faire.
outcome-not-found = Code inconnu
outcome-not-found-text = Aucune demande n’attend avec ce code : il n’existe pas ou a déjà reçu une réponse. Vérifiez le code sur votre appareil.
outcome-expired = Code expiré
outcome-expired-text = Ce code a expiré. Recommencez depuis votre appareil pour en obtenir un nouveau.
outcome-already = Déjà traitée
outcome-already-text = Cette demande a déjà été autorisée ou refusée.
result-connected = { $client } est maintenant associé à votre compte.
result-not-connected = { $client } n’a pas été associé.
result-it-can = Il peut :
result-your-devices = Vos appareils
result-connect-another = Associer un autre appareil

## Pages courtes

message-form-expired = Formulaire expiré
message-consent-expired-text = Ce formulaire d’autorisation n’est plus valable. Saisissez à nouveau le code de votre appareil.
message-enter-code = Saisir le code
message-sign-out = Se déconnecter ?
message-sign-out-text = Utilisez le bouton « Se déconnecter » en haut de la page.

## Votre compte

account-title = Votre compte
account-devices = Appareils ayant accès
account-device-count = { $n ->
    [0] Aucun appareil ne peut utiliser votre compte.
    [one] Un appareil peut utiliser votre compte.
   *[other] { $n } appareils peuvent utiliser votre compte.
}
account-revoke-hint = Révoquer un appareil l’arrête aussitôt : il ne peut plus renouveler son accès, et son jeton d’accès actuel cesse de fonctionner.
account-approved = Autorisé le
account-last-refreshed = Dernier renouvellement
account-expires = Expire le
account-device-address = Adresse de l’appareil
account-revoke = Révoquer
account-revoke-which = { $client }, autorisé le { $date }
account-revoke-all = Révoquer tous les appareils
account-sessions = Où vous êtes connecté
account-session-count = { $n ->
    [one] Vous êtes connecté dans { $n } navigateur.
   *[other] Vous êtes connecté dans { $n } navigateurs.
}
account-this-browser = Ce navigateur
account-address = Adresse
account-signed-in = Connexion
account-last-active = Dernière activité
account-sign-out = Déconnecter
account-sign-out-this = ce navigateur
account-sign-out-which = { $browser }, connecté le { $date }
account-sign-out-others = Se déconnecter partout ailleurs
account-password = Mot de passe
browser-unknown = Navigateur inconnu
browser-generic = Un navigateur
browser-on = { $browser } sur { $os }
notice-revoked = Appareil révoqué. Il ne peut plus renouveler son accès, et son jeton d’accès ne fonctionne plus.
notice-revoked-all = Tous les appareils ont été révoqués. Aucun d’eux ne peut plus utiliser votre compte.
notice-signed-out = Ce navigateur a été déconnecté.
notice-signed-out-others = Tous les autres navigateurs ont été déconnectés.
notice-password = Mot de passe modifié. Tous les autres navigateurs ont été déconnectés ; les appareils conservent leur accès.

## Changer le mot de passe

password-title = Changer le mot de passe
password-lead = Tous les autres navigateurs connectés à votre compte seront déconnectés. Les appareils associés conservent leur accès ; vous pouvez le révoquer sur la page de votre compte.
password-current = Mot de passe actuel
password-new = Nouveau mot de passe
password-new-help = Au moins 8 caractères. Quelques mots sans rapport entre eux font un bon mot de passe.
password-again = Confirmez le nouveau mot de passe
password-back = Retour à votre compte
password-too-short = { $n ->
    [one] Le nouveau mot de passe est trop court : utilisez au moins { $n } caractère.
   *[other] Le nouveau mot de passe est trop court : utilisez au moins { $n } caractères.
}
password-mismatch = Les deux nouveaux mots de passe ne sont pas identiques.
password-wrong-current = Votre mot de passe actuel est incorrect.
password-too-many = { $secs ->
    [one] Trop de mots de passe erronés. Réessayez dans { $secs } seconde.
   *[other] Trop de mots de passe erronés. Réessayez dans { $secs } secondes.
}

## En cas de problème

error-start-again = Recommencer
error-not-found = Introuvable
error-not-found-text = Il n’y a aucune page à cette adresse.
error-not-allowed = Non autorisé
error-not-allowed-text = Cette adresse n’accepte que { $methods }.
error-uri-too-long = Adresse trop longue
error-uri-too-long-text = La chaîne de requête dépasse { $limit } octets.
error-csrf-text = Ce formulaire n’est plus valable. Revenez en arrière, rechargez la page et réessayez.
error-not-a-form = Formulaire non pris en charge
error-not-a-form-text = Cette page n’accepte que l’envoi de formulaires HTML.
error-too-large = Trop de données
error-too-large-text = Le formulaire dépassait la taille autorisée.
error-incomplete = Formulaire incomplet
error-incomplete-text = Le formulaire n’a pas pu être lu.
error-too-slow = Trop lent
error-too-slow-text = Le formulaire a mis trop de temps à arriver. Veuillez réessayer.
error-invalid-form = Formulaire non valide
error-invalid-form-text = Le formulaire n’a pas pu être lu : il est mal formé. Revenez en arrière et réessayez.
error-storage = Une erreur s’est produite
error-storage-text = Le serveur n’a pas pu traiter cette demande. Veuillez réessayer.
error-busy = Serveur occupé
error-busy-text = Le serveur est occupé. Veuillez réessayer dans un instant.
error-password-not-stored-text = Le nouveau mot de passe n’a pas pu être enregistré. Veuillez réessayer.
error-no-decision = Aucune décision
error-no-decision-text = Choisissez « Autoriser » ou « Refuser ».
error-invalid-code = Code non valide
error-invalid-code-text = Ce code n’est pas valide.
error-unknown-device = Appareil inconnu
error-unknown-device-text = Cet appareil est introuvable.
error-no-device-text = Aucun appareil n’a été choisi.
error-unknown-session = Session inconnue
error-unknown-session-text = Cette session est introuvable.
error-no-session-text = Aucune session n’a été choisie.
error-account-changed = Compte modifié
error-account-changed-text = Ce compte a été modifié entre-temps. Reconnectez-vous.

## Admin console
account-admin-console = Console d’administration
admin-nav = Administration
admin-users = Utilisateurs
admin-clients = Clients
admin-grants = Autorisations actives
admin-audit = Journal d’audit
admin-keys = Clés de signature
admin-role-admin = admin
admin-disabled = désactivé
admin-created = Créé
admin-dpop = DPoP
admin-token-format = Format des jetons d'accès
admin-redirect-uris = URI de redirection
admin-redirect-uris-help = Une par ligne : https, http vers 127.0.0.1 ou [::1] (tout port convient), ou un schéma d’application comme com.example.app:/cb.
admin-device-code-ttl = Durée de validité du code d'appareil
admin-poll-interval = Intervalle d'interrogation
admin-user-code-format = Format du code utilisateur
admin-server-default = Valeur par défaut du serveur
admin-user-add = Ajouter un utilisateur
admin-username = Nom d’utilisateur
admin-password = Mot de passe (au moins 8 caractères)
admin-new-password = Nouveau mot de passe (au moins 8 caractères)
admin-make-admin = Administrateur (peut utiliser cette console)
admin-none = Aucun.
admin-scopes = Portées
admin-expires = Expire
admin-revoke = Révoquer
admin-revoke-all = Tout révoquer
admin-sessions = Navigateurs connectés
admin-signed-in = Connecté
admin-address = Adresse
admin-browser = Navigateur
admin-actions = Actions
admin-role-grant = Nommer administrateur
admin-role-remove = Retirer le rôle d’administrateur
admin-password-reset = Réinitialiser le mot de passe
admin-enable = Activer
admin-disable = Désactiver
admin-delete = Supprimer
admin-confirm = Oui, j’en suis sûr
admin-client-name = Nom affiché
admin-scopes-help = Séparées par des espaces, p. ex. profile read write.
admin-grant-types = Types d’octroi
admin-access-ttl = Durée du jeton d’accès
admin-refresh-ttl = Durée du jeton de rafraîchissement
admin-ttl-help = Secondes ou 15m, 12h, 30d ; vide : valeur du serveur.
admin-confidential = confidentiel
admin-client-add = Ajouter un client
admin-client-id = Identifiant client
admin-confidential-help = Confidentiel : un serveur de ressources ou backend avec un secret
admin-client-edit = Paramètres
admin-save = Enregistrer
admin-rotate-secret = Nouveau secret
admin-secret-title = Secret du client
admin-secret-lead = Copiez-le maintenant : il n’est affiché qu’une fois et n’est conservé que haché.
admin-secret = Secret
admin-continue = Continuer
admin-kind = Type
admin-any = Tous
admin-audit-user = Utilisateur (auteur ou objet)
admin-since = Du
admin-until = Au
admin-time-help = Une date (2026-01-31, UTC) ou des secondes Unix.
admin-filter = Filtrer
admin-export = Exporter en lignes JSON
admin-time = Heure
admin-actor = Par
admin-subject = Objet
admin-detail = Détail
admin-keys-lead = Les nouveaux jetons sont signés avec la clé marquée ; les autres restent publiées pour que leurs jetons se vérifient jusqu’à expiration.
admin-signing = signe
admin-key-rotate = Renouveler : nouvelle clé de signature
admin-done-user-added = L’utilisateur a été ajouté.
admin-done-user-changed = L’utilisateur a été modifié.
admin-done-user-deleted = L’utilisateur a été supprimé.
admin-done-revoked = L’accès a été révoqué.
admin-done-client-changed = Le client a été enregistré.
admin-done-client-deleted = Le client a été supprimé.
admin-done-key-rotated = Une nouvelle clé de signature est utilisée.
error-forbidden = Réservé aux administrateurs
error-forbidden-text = Cette page est réservée aux administrateurs.
error-admin-refused = Non effectué
error-no-such-user-text = Cet utilisateur n’existe pas.
error-no-such-client-text = Ce client n’existe pas.
error-not-confirmed-text = Cochez la case de confirmation pour le faire.
error-unknown-action-text = Cette action est inconnue.
error-password-short-text = Le mot de passe doit comporter au moins 8 caractères.
error-not-yourself-text = Vous ne pouvez pas faire cela à votre propre compte.
error-bad-lifetime-text = Une durée n’est pas valide : utilisez des secondes ou 15m, 12h, 30d.
error-bad-time-text = Une date n’est pas valide : utilisez 2026-01-31 ou des secondes Unix.
error-bad-name-text = Les noms comportent 1 à 64 lettres, chiffres et - _ . @ uniquement.
error-name-taken-text = Ce nom est déjà pris.
error-public-client-text = Un client public n’a pas de secret.
error-client-setting-text = Un réglage du client n'est pas autorisé : client_credentials exige un client confidentiel, les URI de redirection doivent être en https, en http vers 127.0.0.1 ou [::1], ou un schéma privé, et les durées et intervalles doivent rester dans leurs limites.

## Flux par code d'autorisation (RFC 6749 §4.1)

authorize-eyebrow = Demande de connexion d'une application
authorize-warning-strong = N'approuvez que si vous venez vous-même de commencer à vous connecter à cette application.
authorize-warning = Si un lien inattendu vous a mené ici, appuyez sur Refuser : approuver donnerait à cette application l'accès à votre compte.
authorize-returns = Retour vers
error-unknown-client = Application inconnue
error-unknown-client-text = Cette application n'est pas enregistrée ici, ou elle est désactivée. Rien ne lui a été renvoyé.
error-bad-redirect = Adresse de retour non autorisée
error-bad-redirect-text = L'application a demandé à vous renvoyer vers une adresse qu'elle n'a pas enregistrée. Pour votre sécurité, vous n'y avez pas été envoyé.
