# AuthGate 頁面，繁體中文（台灣）。訊息 ID 與 en/main.ftl 完全相同。
# 技術性內容（例如 BCDF-GHJK 這類代碼、網址、scope 名稱）保持原樣。

## 每個頁面

page-skip = 跳至主要內容
nav-account = 帳戶
nav-your-account = 你的帳戶：
nav-sign-out = 登出
lang-switch = 語言

## 登入

login-title = 登入
login-lead = 登入後即可將裝置連結到你的帳戶，或管理可存取帳戶的裝置。
login-username = 使用者名稱
login-password = 密碼
login-wrong = 使用者名稱或密碼錯誤。
login-too-many = 登入失敗次數過多。請在 { $secs } 秒後再試一次。
attempt-in-flight = 你上一次的嘗試仍在檢查中。請在 1 秒後再試一次。
attempt-busy = 伺服器正忙於檢查密碼。請在 1 秒後再試一次。

## 輸入代碼

device-title = 連結裝置
device-lead = 請輸入裝置上顯示的代碼。
device-wait = 請稍候。
device-check = 請檢查代碼。
device-code = 代碼
device-code-help = 8 個字母，例如 BCDF-GHJK。大小寫、連字號和空格都沒有影響。
device-continue = 繼續
device-aside = 已經掃描 QR 碼或從裝置開啟連結了嗎？那就可以略過這個步驟。
code-invalid-character = 代碼只包含裝置上顯示的字元：沒有母音的字母，或只有數字。請檢查後再試一次。
code-shape = 代碼是 8 個字母（例如 BCDF-GHJK）或 10 個數字（例如 01234-56789）。請檢查後再試一次。
code-wrong = 這個代碼錯誤、已過期或已被使用。請檢查裝置上的代碼；如果已過期，請在裝置上重新開始。
code-throttled = 錯誤的代碼太多。為了你的安全，暫時無法檢查代碼。請在 { $secs } 秒後再試一次。

## 授權確認

consent-title = 要核准 { $client } 嗎？
consent-eyebrow = 裝置登入請求
consent-heading = 要將 { $client } 連結到你的帳戶嗎？
consent-code = 裝置上的代碼
consent-warning-strong = 只核准你手上正拿著、而且此刻正顯示這組代碼的裝置。
consent-warning = 如果有人傳給你這組代碼或連結，或要求你輸入它，請按「拒絕」：一旦核准，對方就能進入你的帳戶。
consent-can = 它將可以
consent-about = 關於這項請求
consent-app = 應用程式
consent-asked = 請求時間
consent-from = 來源位址
consent-same-network = （與你目前使用的網路相同）
consent-software = 裝置軟體
consent-expires = 代碼剩餘有效時間
consent-approve = 核准
consent-deny = 拒絕

## 裝置可以做什麼

scope-profile = 查看你的使用者名稱
scope-read = 讀取你的資料
scope-write = 變更你的資料

## 時間長度與時間

duration-under-minute = 不到 1 分鐘
duration-minutes = { $n } 分鐘
duration-hours = { $n } 小時
duration-days = { $n } 天
ago-under-minute = 不到 1 分鐘前
ago-minutes = { $n } 分鐘前
ago-hours = { $n } 小時前
ago-days = { $n } 天前
time-now = 現在
time-unknown = 不明
time-never = 從未

## 核准或拒絕之後

outcome-approved = 已核准裝置
outcome-approved-text = 請回到你的裝置：它會在幾秒內完成連線。改變心意了嗎？可以在「你的裝置」中撤銷它。
outcome-denied = 已拒絕請求
outcome-denied-text = 這台裝置沒有取得存取權，它的代碼也無法再次使用。你不需要再做任何事。
outcome-not-found = 未知的代碼
outcome-not-found-text = 沒有任何請求在等待這組代碼：它不存在，或已經被回應過。請檢查裝置上的代碼。
outcome-expired = 代碼已過期
outcome-expired-text = 這組代碼已過期。請在裝置上重新開始，以取得新的代碼。
outcome-already = 已經回應過
outcome-already-text = 這項請求已經被核准或拒絕。
result-connected = { $client } 現在已連結到你的帳戶。
result-not-connected = { $client } 沒有被連結。
result-it-can = 它可以：
result-your-devices = 你的裝置
result-connect-another = 連結其他裝置

## 簡短頁面

message-form-expired = 表單已失效
message-consent-expired-text = 這份核准表單已經失效。請再次輸入裝置上的代碼。
message-enter-code = 輸入代碼
message-sign-out = 要登出嗎？
message-sign-out-text = 請使用頁面頂端的「登出」按鈕。

## 你的帳戶

account-title = 你的帳戶
account-devices = 具有存取權的裝置
account-device-count = { $n ->
    [0] 目前沒有任何裝置可以使用你的帳戶。
   *[other] 有 { $n } 台裝置可以使用你的帳戶。
}
account-revoke-hint = 撤銷裝置會立即停止它：它將無法更新存取權，目前的存取權杖也會立刻失效。
account-approved = 核准時間
account-last-refreshed = 上次更新
account-expires = 到期時間
account-device-address = 裝置位址
account-revoke = 撤銷
account-revoke-which = { $client }，核准於 { $date }
account-revoke-all = 撤銷所有裝置
account-sessions = 你在哪些地方登入
account-session-count = 你已在 { $n } 個瀏覽器中登入。
account-this-browser = 此瀏覽器
account-address = 位址
account-signed-in = 登入時間
account-last-active = 上次活動
account-sign-out = 登出
account-sign-out-this = 此瀏覽器
account-sign-out-which = { $browser }，登入於 { $date }
account-sign-out-others = 登出其他所有地方
account-password = 密碼
browser-unknown = 不明的瀏覽器
browser-generic = 某個瀏覽器
browser-on = { $os } 上的 { $browser }
notice-revoked = 已撤銷裝置。它無法再更新存取權，它的存取權杖也已失效。
notice-revoked-all = 已撤銷所有裝置。它們都無法再使用你的帳戶。
notice-signed-out = 該瀏覽器已登出。
notice-signed-out-others = 其他所有瀏覽器都已登出。
notice-password = 密碼已變更。其他所有瀏覽器都已登出；裝置則保留其存取權。

## 變更密碼

password-title = 變更密碼
password-lead = 其他所有登入你帳戶的瀏覽器都會被登出。已連結的裝置會保留存取權；你可以在帳戶頁面撤銷它們。
password-current = 目前的密碼
password-new = 新密碼
password-new-help = 至少 8 個字元。幾個彼此無關的詞組合起來就是好密碼。
password-again = 再次輸入新密碼
password-back = 返回你的帳戶
password-too-short = 新密碼太短：請至少使用 { $n } 個字元。
password-mismatch = 兩次輸入的新密碼不一致。
password-wrong-current = 目前的密碼不正確。
password-too-many = 密碼錯誤次數過多。請在 { $secs } 秒後再試一次。

## 發生問題時

error-start-again = 重新開始
error-not-found = 找不到頁面
error-not-found-text = 這個網址沒有任何頁面。
error-not-allowed = 不允許的操作
error-not-allowed-text = 這個網址只接受 { $methods }。
error-uri-too-long = 網址過長
error-uri-too-long-text = 查詢字串超過 { $limit } 位元組。
error-csrf-text = 這份表單已經失效。請返回上一頁，重新載入後再試一次。
error-not-a-form = 不支援的表單
error-not-a-form-text = 這個頁面只接受 HTML 表單提交。
error-too-large = 資料過多
error-too-large-text = 表單超過允許的大小。
error-incomplete = 表單不完整
error-incomplete-text = 無法讀取表單。
error-too-slow = 傳送太慢
error-too-slow-text = 表單傳送時間過長。請再試一次。
error-invalid-form = 無效的表單
error-invalid-form-text = 表單格式有誤，無法讀取。請返回上一頁再試一次。
error-storage = 發生錯誤
error-storage-text = 伺服器無法完成這項請求。請再試一次。
error-busy = 伺服器忙碌中
error-busy-text = 伺服器目前忙碌中。請稍後再試一次。
error-password-not-stored-text = 無法儲存新密碼。請再試一次。
error-no-decision = 尚未選擇
error-no-decision-text = 請選擇「核准」或「拒絕」。
error-invalid-code = 無效的代碼
error-invalid-code-text = 這組代碼無效。
error-unknown-device = 未知的裝置
error-unknown-device-text = 找不到該裝置。
error-no-device-text = 沒有選擇任何裝置。
error-unknown-session = 未知的工作階段
error-unknown-session-text = 找不到該工作階段。
error-no-session-text = 沒有選擇任何工作階段。
error-account-changed = 帳戶已變更
error-account-changed-text = 這個帳戶在此期間已被變更。請重新登入。

## Admin console
account-admin-console = 管理主控台
admin-nav = 管理
admin-users = 使用者
admin-clients = 用戶端
admin-grants = 有效授權
admin-audit = 稽核紀錄
admin-keys = 簽章金鑰
admin-role-admin = 管理員
admin-disabled = 已停用
admin-created = 建立時間
admin-dpop = DPoP
admin-token-format = 存取權杖格式
admin-redirect-uris = 重新導向 URI
admin-redirect-uris-help = 每行一個：https、指向 127.0.0.1 或 [::1] 的 http（任何連接埠皆可），或如 com.example.app:/cb 的應用程式配置。
admin-device-code-ttl = 裝置碼有效期限
admin-poll-interval = 輪詢間隔
admin-user-code-format = 使用者代碼格式
admin-server-default = 伺服器預設值
admin-user-add = 新增使用者
admin-username = 使用者名稱
admin-password = 密碼（至少 8 個字元）
admin-new-password = 新密碼（至少 8 個字元）
admin-make-admin = 管理員（可使用此主控台）
admin-none = 無。
admin-scopes = 範圍
admin-expires = 到期
admin-revoke = 撤銷
admin-revoke-all = 全部撤銷
admin-sessions = 已登入的瀏覽器
admin-signed-in = 登入時間
admin-address = 位址
admin-browser = 瀏覽器
admin-actions = 操作
admin-role-grant = 設為管理員
admin-role-remove = 移除管理員角色
admin-password-reset = 重設密碼
admin-enable = 啟用
admin-disable = 停用
admin-delete = 刪除
admin-confirm = 是，我確定
admin-client-name = 顯示名稱
admin-scopes-help = 以空格分隔，例如 profile read write。
admin-grant-types = 授權類型
admin-access-ttl = 存取權杖效期
admin-refresh-ttl = 更新權杖效期
admin-ttl-help = 秒數或 15m、12h、30d；留空則用伺服器預設值。
admin-confidential = 機密
admin-client-add = 新增用戶端
admin-client-id = 用戶端 ID
admin-confidential-help = 機密：具有密鑰的資源伺服器或後端
admin-client-edit = 設定
admin-save = 儲存
admin-rotate-secret = 新密鑰
admin-secret-title = 用戶端密鑰
admin-secret-lead = 請立即複製：只會顯示這一次，且只以雜湊值儲存。
admin-secret = 密鑰
admin-continue = 繼續
admin-kind = 類型
admin-any = 全部
admin-audit-user = 使用者（執行者或對象）
admin-since = 起
admin-until = 迄
admin-time-help = 日期（2026-01-31，UTC）或 Unix 秒數。
admin-filter = 篩選
admin-export = 匯出為 JSON lines
admin-time = 時間
admin-actor = 執行者
admin-subject = 對象
admin-detail = 詳細
admin-keys-lead = 新權杖以標示的金鑰簽章；其他金鑰仍會公開，讓它們簽發的權杖在到期前都能驗證。
admin-signing = 簽章中
admin-key-rotate = 輪替：新簽章金鑰
admin-done-user-added = 已新增使用者。
admin-done-user-changed = 已變更使用者。
admin-done-user-deleted = 已刪除使用者。
admin-done-revoked = 已撤銷存取權。
admin-done-client-changed = 已儲存用戶端。
admin-done-client-deleted = 已刪除用戶端。
admin-done-key-rotated = 已啟用新的簽章金鑰。
error-forbidden = 僅限管理員
error-forbidden-text = 此頁面僅供管理員使用。
error-admin-refused = 未執行
error-no-such-user-text = 沒有這個使用者。
error-no-such-client-text = 沒有這個用戶端。
error-not-confirmed-text = 請勾選確認方塊後再執行。
error-unknown-action-text = 未知的操作。
error-password-short-text = 密碼至少需要 8 個字元。
error-not-yourself-text = 您無法對自己的帳號執行此操作。
error-bad-lifetime-text = 效期無效：請使用秒數或 15m、12h、30d。
error-bad-time-text = 日期無效：請使用 2026-01-31 或 Unix 秒數。
error-bad-name-text = 名稱須為 1 至 64 個字母、數字及 - _ . @。
error-name-taken-text = 此名稱已被使用。
error-public-client-text = 公開用戶端沒有密鑰。
error-client-setting-text = 不允許此用戶端設定：client_credentials 需要機密用戶端，重新導向 URI 必須是 https、指向 127.0.0.1 或 [::1] 的 http，或私有配置，且有效期限與間隔必須在允許範圍內。

## 授權碼流程 (RFC 6749 §4.1)

authorize-eyebrow = 來自應用程式的登入要求
authorize-warning-strong = 只有在您剛剛親自開始登入此應用程式時才核准。
authorize-warning = 如果是您沒有預期的連結帶您來到這裡，請按「拒絕」：核准會讓該應用程式進入您的帳戶。
authorize-returns = 返回至
error-unknown-client = 未知的應用程式
error-unknown-client-text = 此應用程式未在此註冊，或已停用。未向其回傳任何內容。
error-bad-redirect = 不允許的返回位址
error-bad-redirect-text = 此應用程式要求將您送回未註冊的位址。為了您的安全，並未將您送往該處。
