# Páginas de AuthGate, español. Los mismos identificadores que en/main.ftl.
# Los elementos técnicos (códigos como BCDF-GHJK, direcciones, nombres de scope) no se traducen.

## Todas las páginas

page-skip = Saltar al contenido
nav-account = Cuenta
nav-your-account = Tu cuenta:
nav-sign-out = Cerrar sesión
lang-switch = Idioma

## Iniciar sesión

login-title = Iniciar sesión
login-lead = Inicia sesión para conectar un dispositivo a tu cuenta o para gestionar los dispositivos que tienen acceso.
login-username = Nombre de usuario
login-password = Contraseña
login-wrong = Nombre de usuario o contraseña incorrectos.
login-too-many = { $secs ->
    [one] Demasiados intentos fallidos. Vuelve a intentarlo dentro de 1 segundo.
   *[other] Demasiados intentos fallidos. Vuelve a intentarlo dentro de { $secs } segundos.
}
attempt-in-flight = Todavía se está comprobando tu intento anterior. Vuelve a intentarlo dentro de 1 segundo.
attempt-busy = El servidor está ocupado comprobando contraseñas. Vuelve a intentarlo dentro de 1 segundo.

## Introducir un código

device-title = Conectar un dispositivo
device-lead = Escribe el código que muestra tu dispositivo.
device-wait = Espera un momento.
device-check = Revisa el código.
device-code = Código
device-code-help = 8 letras, como BCDF-GHJK. Da igual si usas mayúsculas, guiones o espacios.
device-continue = Continuar
device-aside = ¿Has escaneado un código QR o abierto un enlace desde el dispositivo? Entonces te saltas este paso.
code-invalid-character = Un código solo tiene los caracteres que muestra tu dispositivo: letras sin vocales, o solo números. Revísalo y vuelve a intentarlo.
code-shape = Un código tiene 8 letras, como BCDF-GHJK, o 10 números, como 01234-56789. Revísalo y vuelve a intentarlo.
code-wrong = Ese código es incorrecto, ha caducado o ya se ha usado. Revisa el código en tu dispositivo; si ha caducado, empieza de nuevo allí.
code-throttled = { $secs ->
    [one] Demasiados códigos incorrectos. Por tu seguridad, los códigos no se pueden comprobar durante un momento. Vuelve a intentarlo dentro de 1 segundo.
   *[other] Demasiados códigos incorrectos. Por tu seguridad, los códigos no se pueden comprobar durante un momento. Vuelve a intentarlo dentro de { $secs } segundos.
}

## Autorización

consent-title = ¿Aprobar { $client }?
consent-eyebrow = Solicitud de inicio de sesión de un dispositivo
consent-heading = ¿Conectar { $client } a tu cuenta?
consent-code = Código en el dispositivo
consent-warning-strong = Aprueba solo un dispositivo que tengas en la mano y que esté mostrando este código ahora mismo.
consent-warning = Si alguien te ha enviado este código o enlace, o te ha pedido que lo introduzcas, pulsa «Denegar»: si lo apruebas, esa persona podría entrar en tu cuenta.
consent-can = Podrá
consent-about = Sobre esta solicitud
consent-app = Aplicación
consent-asked = Solicitado
consent-from = Desde la dirección
consent-same-network = (la red en la que estás)
consent-software = Software del dispositivo
consent-expires = El código caduca en
consent-approve = Aprobar
consent-deny = Denegar

## Lo que puede hacer un dispositivo

scope-profile = Ver tu nombre de usuario
scope-read = Leer tus datos
scope-write = Modificar tus datos

## Duraciones y fechas

duration-under-minute = menos de un minuto
duration-minutes = { $n ->
    [one] 1 minuto
   *[other] { $n } minutos
}
duration-hours = { $n ->
    [one] 1 hora
   *[other] { $n } horas
}
duration-days = { $n ->
    [one] 1 día
   *[other] { $n } días
}
ago-under-minute = hace menos de un minuto
ago-minutes = { $n ->
    [one] hace 1 minuto
   *[other] hace { $n } minutos
}
ago-hours = { $n ->
    [one] hace 1 hora
   *[other] hace { $n } horas
}
ago-days = { $n ->
    [one] hace 1 día
   *[other] hace { $n } días
}
time-now = ahora
time-unknown = desconocido
time-never = nunca

## Tras aprobar o denegar

outcome-approved = Dispositivo aprobado
outcome-approved-text = Vuelve a tu dispositivo: se conectará en unos segundos. ¿Has cambiado de opinión? Revoca el acceso en «Tus dispositivos».
outcome-denied = Solicitud denegada
outcome-denied-text = El dispositivo no ha obtenido acceso y su código ya no se puede usar. No tienes que hacer nada más.
outcome-not-found = Código desconocido
outcome-not-found-text = No hay ninguna solicitud pendiente con este código: no existe o ya se respondió. Revisa el código en tu dispositivo.
outcome-expired = Código caducado
outcome-expired-text = Este código ha caducado. Empieza de nuevo en tu dispositivo para obtener otro.
outcome-already = Ya respondida
outcome-already-text = Esta solicitud ya se aprobó o se denegó.
result-connected = { $client } ya está conectado a tu cuenta.
result-not-connected = { $client } no se ha conectado.
result-it-can = Podrá:
result-your-devices = Tus dispositivos
result-connect-another = Conectar otro dispositivo

## Páginas breves

message-form-expired = Formulario caducado
message-consent-expired-text = Este formulario de aprobación ya no es válido. Vuelve a introducir el código de tu dispositivo.
message-enter-code = Introducir el código
message-sign-out = ¿Cerrar sesión?
message-sign-out-text = Usa el botón «Cerrar sesión» de la parte superior de la página.

## Tu cuenta

account-title = Tu cuenta
account-devices = Dispositivos con acceso
account-device-count = { $n ->
    [0] Ningún dispositivo puede usar tu cuenta.
    [one] Un dispositivo puede usar tu cuenta.
   *[other] { $n } dispositivos pueden usar tu cuenta.
}
account-revoke-hint = Revocar un dispositivo lo detiene al instante: ya no podrá renovar su acceso y su token de acceso actual dejará de funcionar.
account-approved = Aprobado
account-last-refreshed = Última renovación
account-expires = Caduca
account-device-address = Dirección del dispositivo
account-revoke = Revocar
account-revoke-which = { $client }, aprobado el { $date }
account-revoke-all = Revocar todos los dispositivos
account-sessions = Dónde has iniciado sesión
account-session-count = { $n ->
    [one] Has iniciado sesión en un navegador.
   *[other] Has iniciado sesión en { $n } navegadores.
}
account-this-browser = Este navegador
account-address = Dirección
account-signed-in = Inicio de sesión
account-last-active = Última actividad
account-sign-out = Cerrar sesión
account-sign-out-this = en este navegador
account-sign-out-which = { $browser }, sesión iniciada el { $date }
account-sign-out-others = Cerrar sesión en todos los demás
account-password = Contraseña
browser-unknown = Navegador desconocido
browser-generic = Un navegador
browser-on = { $browser } en { $os }
notice-revoked = Dispositivo revocado. Ya no puede renovar su acceso y su token de acceso ha dejado de funcionar.
notice-revoked-all = Todos los dispositivos revocados. Ninguno de ellos puede seguir usando tu cuenta.
notice-signed-out = Se ha cerrado la sesión en ese navegador.
notice-signed-out-others = Se ha cerrado la sesión en todos los demás navegadores.
notice-password = Contraseña cambiada. Se ha cerrado la sesión en todos los demás navegadores; los dispositivos conservan su acceso.

## Cambiar la contraseña

password-title = Cambiar la contraseña
password-lead = Se cerrará la sesión en todos los demás navegadores conectados a tu cuenta. Los dispositivos conectados conservan su acceso; puedes revocarlo en la página de tu cuenta.
password-current = Contraseña actual
password-new = Nueva contraseña
password-new-help = Al menos 8 caracteres. Unas cuantas palabras sin relación entre sí forman una buena contraseña.
password-again = Repite la nueva contraseña
password-back = Volver a tu cuenta
password-too-short = { $n ->
    [one] La nueva contraseña es demasiado corta: usa al menos 1 carácter.
   *[other] La nueva contraseña es demasiado corta: usa al menos { $n } caracteres.
}
password-mismatch = Las dos contraseñas nuevas no coinciden.
password-wrong-current = Tu contraseña actual no es correcta.
password-too-many = { $secs ->
    [one] Demasiadas contraseñas incorrectas. Vuelve a intentarlo dentro de 1 segundo.
   *[other] Demasiadas contraseñas incorrectas. Vuelve a intentarlo dentro de { $secs } segundos.
}

## Cuando algo falla

error-start-again = Empezar de nuevo
error-not-found = No encontrada
error-not-found-text = No hay ninguna página en esta dirección.
error-not-allowed = No permitido
error-not-allowed-text = Esta dirección solo acepta { $methods }.
error-uri-too-long = Dirección demasiado larga
error-uri-too-long-text = La consulta ocupa más de { $limit } bytes.
error-csrf-text = Este formulario ya no es válido. Vuelve atrás, recarga la página e inténtalo de nuevo.
error-not-a-form = Formulario no admitido
error-not-a-form-text = Esta página solo acepta envíos de formularios HTML.
error-too-large = Demasiados datos
error-too-large-text = El formulario superaba el tamaño permitido.
error-incomplete = Formulario incompleto
error-incomplete-text = No se ha podido leer el formulario.
error-too-slow = Demasiado lento
error-too-slow-text = El formulario tardó demasiado en llegar. Inténtalo de nuevo.
error-invalid-form = Formulario no válido
error-invalid-form-text = No se ha podido leer el formulario porque está mal formado. Vuelve atrás e inténtalo de nuevo.
error-storage = Algo ha fallado
error-storage-text = El servidor no ha podido completar esta solicitud. Inténtalo de nuevo.
error-busy = Servidor ocupado
error-busy-text = El servidor está ocupado. Inténtalo de nuevo dentro de un momento.
error-password-not-stored-text = No se ha podido guardar la nueva contraseña. Inténtalo de nuevo.
error-no-decision = Sin decisión
error-no-decision-text = Elige «Aprobar» o «Denegar».
error-invalid-code = Código no válido
error-invalid-code-text = Este código no es válido.
error-unknown-device = Dispositivo desconocido
error-unknown-device-text = No se ha encontrado ese dispositivo.
error-no-device-text = No se ha elegido ningún dispositivo.
error-unknown-session = Sesión desconocida
error-unknown-session-text = No se ha encontrado esa sesión.
error-no-session-text = No se ha elegido ninguna sesión.
error-account-changed = Cuenta modificada
error-account-changed-text = Esta cuenta se ha modificado mientras tanto. Vuelve a iniciar sesión.

## Admin console
account-admin-console = Consola de administración
admin-nav = Administración
admin-users = Usuarios
admin-clients = Clientes
admin-grants = Autorizaciones activas
admin-audit = Registro de auditoría
admin-keys = Claves de firma
admin-role-admin = admin
admin-disabled = desactivado
admin-created = Creado
admin-dpop = DPoP
admin-token-format = Formato de los tokens de acceso
admin-redirect-uris = URI de redirección
admin-redirect-uris-help = Una por línea: https, http a 127.0.0.1 o [::1] (cualquier puerto vale) o un esquema de aplicación como com.example.app:/cb.
admin-device-code-ttl = Vigencia del código de dispositivo
admin-poll-interval = Intervalo de sondeo
admin-user-code-format = Formato del código de usuario
admin-server-default = Valor predeterminado del servidor
admin-user-add = Añadir usuario
admin-username = Nombre de usuario
admin-password = Contraseña (al menos 8 caracteres)
admin-new-password = Nueva contraseña (al menos 8 caracteres)
admin-make-admin = Administrador (puede usar esta consola)
admin-none = Ninguno.
admin-scopes = Ámbitos
admin-expires = Caduca
admin-revoke = Revocar
admin-revoke-all = Revocar todas
admin-sessions = Navegadores con sesión
admin-signed-in = Sesión iniciada
admin-address = Dirección
admin-browser = Navegador
admin-actions = Acciones
admin-role-grant = Hacer administrador
admin-role-remove = Quitar el rol de administrador
admin-password-reset = Restablecer contraseña
admin-enable = Activar
admin-disable = Desactivar
admin-delete = Eliminar
admin-confirm = Sí, estoy seguro
admin-client-name = Nombre visible
admin-scopes-help = Separados por espacios, p. ej. profile read write.
admin-grant-types = Tipos de concesión
admin-access-ttl = Duración del token de acceso
admin-refresh-ttl = Duración del token de actualización
admin-ttl-help = Segundos o 15m, 12h, 30d; vacío: el valor del servidor.
admin-confidential = confidencial
admin-client-add = Añadir cliente
admin-client-id = ID de cliente
admin-confidential-help = Confidencial: un servidor de recursos o backend con secreto
admin-client-edit = Ajustes
admin-save = Guardar
admin-rotate-secret = Nuevo secreto
admin-secret-title = Secreto del cliente
admin-secret-lead = Cópielo ahora: solo se muestra esta vez y se guarda solo como hash.
admin-secret = Secreto
admin-continue = Continuar
admin-kind = Tipo
admin-any = Todos
admin-audit-user = Usuario (actor u objeto)
admin-since = Desde
admin-until = Hasta
admin-time-help = Una fecha (2026-01-31, UTC) o segundos Unix.
admin-filter = Filtrar
admin-export = Exportar como líneas JSON
admin-time = Hora
admin-actor = Por
admin-subject = Objeto
admin-detail = Detalle
admin-keys-lead = Los tokens nuevos se firman con la clave marcada; las demás siguen publicadas para que sus tokens se verifiquen hasta caducar.
admin-signing = firma
admin-key-rotate = Rotar: nueva clave de firma
admin-done-user-added = Se añadió el usuario.
admin-done-user-changed = Se modificó el usuario.
admin-done-user-deleted = Se eliminó el usuario.
admin-done-revoked = Se revocó el acceso.
admin-done-client-changed = Se guardó el cliente.
admin-done-client-deleted = Se eliminó el cliente.
admin-done-key-rotated = Se usa una nueva clave de firma.
error-forbidden = Solo administradores
error-forbidden-text = Esta página es solo para administradores.
error-admin-refused = No realizado
error-no-such-user-text = No existe ese usuario.
error-no-such-client-text = No existe ese cliente.
error-not-confirmed-text = Marque la casilla de confirmación para hacerlo.
error-unknown-action-text = Esta acción no se conoce.
error-password-short-text = La contraseña debe tener al menos 8 caracteres.
error-not-yourself-text = No puede hacer esto con su propia cuenta.
error-bad-lifetime-text = Una duración no es válida: use segundos o 15m, 12h, 30d.
error-bad-time-text = Una fecha no es válida: use 2026-01-31 o segundos Unix.
error-bad-name-text = Los nombres tienen de 1 a 64 letras, dígitos y - _ . @.
error-name-taken-text = Ese nombre ya está en uso.
error-public-client-text = Un cliente público no tiene secreto.
error-client-setting-text = Un ajuste del cliente no está permitido: client_credentials requiere un cliente confidencial, las URI de redirección deben ser https, http a 127.0.0.1 o [::1], o un esquema privado, y las vigencias e intervalos deben estar dentro de sus rangos.

## Flujo de código de autorización (RFC 6749 §4.1)

authorize-eyebrow = Solicitud de inicio de sesión de una aplicación
authorize-warning-strong = Aprueba solo si acabas de empezar tú mismo a iniciar sesión en esta aplicación.
authorize-warning = Si has llegado aquí por un enlace que no esperabas, pulsa Denegar: aprobar daría a esa aplicación acceso a tu cuenta.
authorize-returns = Vuelve a
error-unknown-client = Aplicación desconocida
error-unknown-client-text = Esta aplicación no está registrada aquí o está desactivada. No se le ha enviado nada.
error-bad-redirect = Dirección de retorno no permitida
error-bad-redirect-text = La aplicación pidió devolverte a una dirección que no ha registrado. Por tu seguridad, no se te ha enviado allí.
