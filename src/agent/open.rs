//! `loyalty-agent open`: asks the running agent for a one-time launch link to the cashier page
//! (with the agent token, which the page itself never sees) and opens it in the default browser,
//! or prints it.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::wire::LaunchCode;

/// The address to reach an agent listening on `listen`: an agent bound to every interface is
/// reached on loopback, which its Host check always accepts.
pub fn agent_base(listen: SocketAddr) -> String {
    let ip = if listen.ip().is_unspecified() {
        match listen {
            SocketAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        listen.ip()
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// Asks the agent at `base` for a launch link. The error is a sentence for the person at the
/// till.
pub async fn launch_url(base: &str, token: &str) -> Result<String, String> {
    let response =
        super::status::post_to_agent(base, "/v1/launch-codes", token, std::time::Duration::from_secs(10)).await?;
    let status = response.status();
    let body: serde_json::Value =
        response.json().await.map_err(|e| format!("the agent at {base} answered something unexpected: {e}"))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no message");
        return Err(format!("the agent refused to open the page ({status}): {message}"));
    }
    let launch: LaunchCode =
        serde_json::from_value(body).map_err(|e| format!("the agent at {base} answered something unexpected: {e}"))?;
    Ok(launch.url)
}

/// Opens `url` in the default browser. The launcher is started and not waited for beyond its
/// own exit (`xdg-open` and `open` return at once; the browser stays).
pub fn open_in_browser(url: &str) -> Result<(), String> {
    let mut command = if cfg!(target_os = "windows") {
        // `start` takes the first quoted argument as a window title, hence the empty one.
        let mut command = Command::new("cmd");
        command.args(["/C", "start", ""]).arg(url);
        command
    } else if cfg!(target_os = "macos") {
        let mut command = Command::new("open");
        command.arg(url);
        command
    } else {
        let mut command = Command::new("xdg-open");
        command.arg(url);
        command
    };
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("no browser could be started ({e})"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the browser launcher failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_on_every_interface_is_reached_on_loopback() {
        assert_eq!(agent_base("0.0.0.0:8719".parse().unwrap()), "http://127.0.0.1:8719");
        assert_eq!(agent_base("[::]:8719".parse().unwrap()), "http://[::1]:8719");
        assert_eq!(agent_base("127.0.0.1:9000".parse().unwrap()), "http://127.0.0.1:9000");
    }
}
